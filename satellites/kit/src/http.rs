//! HTTP plumbing every service shares. Every failure is a JSON `{"error": ...}` body: the
//! services' own errors through [`ApiError`], and axum's rejections (a query string that does
//! not parse, a method a route does not allow, ...) through [`json_errors`], which rewrites any
//! error response that is not JSON. A rejected body (axum's 422) becomes a 400 like every other
//! bad request.
//!
//! No answer carries an internal error's text: a 5xx says only that something failed, with an
//! `error_id` that the log line holding the details also has. Hostile input is refused before
//! any handler sees it ([`hostile_input`]): bodies over [`MAX_BODY_BYTES`], NUL characters or
//! invalid UTF-8 in the path, the query or any JSON string (the answer names the field).

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::api_error::server_error;
pub use crate::api_error::{ApiError, error_response};
use crate::auth::Authenticator;
pub use crate::limits::MAX_BODY_BYTES;
use crate::limits::{HttpLimits, RateLimit, rate_limit};
use crate::metrics::Metrics;

/// Longest plain-text error body [`json_errors`] reads back.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Trims a trailing slash from the path before routing, and adds `ops` (metrics, health), the
/// JSON 404 fallback, the refusal of hostile input (bodies
/// slower than `limits.request_timeout` included), the per-caller rate limit of write requests,
/// the authenticator handlers' [`crate::auth::Caller`] uses, JSON error bodies and request
/// counting to a service's `api`. Without an authenticator (a service whose every endpoint is
/// public), a handler asking for a caller answers 401.
pub fn finish(
    api: Router,
    ops: Router,
    metrics: Metrics,
    authenticator: Option<Authenticator>,
    limits: &HttpLimits,
) -> Router {
    let api = api.merge(ops).fallback(|| async { error_response(StatusCode::NOT_FOUND, "not found") });
    let api = match &authenticator {
        Some(authenticator) => api.layer(Extension(authenticator.clone())),
        None => api,
    };
    let api = api.layer(middleware::from_fn_with_state((limits.request_timeout, limits.max_body), hostile_input));
    let api = match limits.rate {
        Some(quota) => {
            let limit = RateLimit::new(quota, authenticator, &limits.exempt_roles);
            api.layer(middleware::from_fn_with_state(limit, rate_limit))
        }
        None => api,
    };
    let api = api.layer(middleware::from_fn(json_errors)).layer(middleware::from_fn_with_state(metrics, count));
    // `/polls/` is `/polls`: one route each, the trailing slash trimmed before routing.
    Router::new().fallback_service(NormalizePathLayer::trim_trailing_slash().layer(api))
}

/// Refuses, before routing: a body over `max_body` ([`MAX_BODY_BYTES`] unless the service
/// raised it) (413) or not in within `request_timeout` (408); a path or query parameter that decodes to invalid UTF-8 or holds
/// a NUL; a JSON body with a NUL in any string or key (400 naming the field, e.g.
/// `vote.options[1]`). The database cannot store a NUL in text, and no identifier of this
/// platform has one.
pub async fn hostile_input(
    State((request_timeout, max_body)): State<(std::time::Duration, usize)>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    if let Err(message) = check_uri(&parts.uri) {
        return error_response(StatusCode::BAD_REQUEST, &message);
    }
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        return too_large(max_body);
    }
    let bytes = match tokio::time::timeout(request_timeout, axum::body::to_bytes(body, max_body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return too_large(max_body),
        Err(_) => {
            let ms = request_timeout.as_millis();
            return error_response(
                StatusCode::REQUEST_TIMEOUT,
                &format!("the request body did not arrive within {ms} ms"),
            );
        }
    };
    if let Ok(value) = serde_json::from_slice::<Value>(&bytes)
        && let Some(field) = nul_in(&value, String::new())
    {
        let field = if field.is_empty() { "the body".to_owned() } else { format!("'{field}'") };
        return error_response(StatusCode::BAD_REQUEST, &format!("{field} must not contain a NUL character"));
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn too_large(max_body: usize) -> Response {
    error_response(StatusCode::PAYLOAD_TOO_LARGE, &format!("the request body is larger than {max_body} bytes"))
}

fn check_uri(uri: &axum::http::Uri) -> Result<(), String> {
    let clean = |text: &str| percent_decode_str(text).decode_utf8().is_ok_and(|t| !t.contains('\0'));
    if !clean(uri.path()) {
        return Err("the path must be valid UTF-8 without NUL characters".to_owned());
    }
    for pair in uri.query().unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (name.replace('+', " "), value.replace('+', " "));
        if !clean(&name) {
            return Err("a query parameter name must be valid UTF-8 without NUL characters".to_owned());
        }
        if !clean(&value) {
            let name = percent_decode_str(&name).decode_utf8_lossy().into_owned();
            return Err(format!("query parameter '{name}' must be valid UTF-8 without NUL characters"));
        }
    }
    Ok(())
}

/// The path of the first string or key holding a NUL (`""` for the body itself).
fn nul_in(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then_some(path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_in(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let field = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if k.contains('\0') { Some(field.replace('\0', "\\u0000")) } else { nul_in(v, field) }
        }),
        _ => None,
    }
}

/// Rewrites an error response whose body is not JSON (axum's extractor rejections, 405s, ...)
/// into `{"error": <its text>}`, and a 422 into a 400.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    if status.is_server_error() {
        return server_error(status, &text);
    }
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { text };
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        parts.status = StatusCode::BAD_REQUEST;
    }
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = serde_json::to_vec(&json!({"error": message})).unwrap_or_default();
    Response::from_parts(parts, Body::from(body))
}

/// Counts each request by method, matched route (bounded: never the raw path) and status.
async fn count(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    };
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or("unmatched");
    metrics.http_requests.with_label_values(&[method, route, response.status().as_str()]).inc();
    response
}

/// A page's asset compiled into the binary (a style sheet, a script), served with
/// `content_type` and `no-cache`, so that a browser picks up a new release at once.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// Whether a request asks for HTML before JSON by its `Accept` header: a browser navigating to
/// a page. Programs (`*/*`, JSON, no header) get JSON.
pub fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    match (accept.find("text/html"), accept.find("application/json")) {
        (Some(html), Some(json)) => html < json,
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::Query;
    use axum::routing::get;
    use prometheus::Registry;
    use tower::ServiceExt;

    use super::*;
    use crate::Error;

    #[derive(serde::Deserialize)]
    struct Page {
        #[allow(dead_code)]
        limit: u32,
    }

    fn app() -> Router {
        let metrics = Metrics::register(&Registry::new()).unwrap();
        let api = Router::new()
            .route("/page", get(|Query(_): Query<Page>| async { "ok" }))
            .route("/gone", get(|| async { ApiError(Error::NotFound("thing".to_owned())) }))
            .route("/unprocessable", get(|| async { (StatusCode::UNPROCESSABLE_ENTITY, "missing field `x`") }));
        finish(api, Router::new(), metrics, Some(crate::auth::Authenticator::Disabled), &HttpLimits::default())
    }

    async fn call(method: Method, uri: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn a_trailing_slash_reaches_the_same_route_and_is_counted_under_it() {
        let registry = Registry::new();
        let metrics = Metrics::register(&registry).unwrap();
        let api = Router::new().route("/page", get(|| async { "ok" }));
        let app =
            finish(api, Router::new(), metrics, Some(crate::auth::Authenticator::Disabled), &HttpLimits::default());
        for uri in ["/page", "/page/", "/page//"] {
            let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
            assert_eq!(app.clone().oneshot(request).await.unwrap().status(), StatusCode::OK, "{uri}");
        }
        let counted = prometheus::TextEncoder::new().encode_to_string(&registry.gather()).unwrap();
        assert!(counted.contains(r#"route="/page",status="200"} 3"#), "{counted}");
    }

    #[tokio::test]
    async fn every_failure_is_a_json_error() {
        let (status, body) = call(Method::GET, "/page?limit=abc").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
        let (status, body) = call(Method::POST, "/page?limit=1").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method not allowed")));
        let (status, body) = call(Method::GET, "/gone").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("thing not found")));
        let (status, body) = call(Method::GET, "/nowhere").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not found")));
        let (status, body) = call(Method::GET, "/unprocessable").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("missing field `x`")));
        assert_eq!(call(Method::GET, "/page?limit=1").await.0, StatusCode::OK);
    }
}
