//! HTTP plumbing every service shares. Every failure is a JSON `{"error": ...}` body: the
//! services' own errors through [`ApiError`], and axum's rejections (a query string that does
//! not parse, a method a route does not allow, ...) through [`json_errors`], which rewrites any
//! error response that is not JSON. A rejected body (axum's 422) becomes a 400 like every other
//! bad request.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use crate::Error;
use crate::metrics::Metrics;

/// Longest plain-text error body [`json_errors`] reads back.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// An [`Error`] as an HTTP response: 400, 404, 409, 503 when it may pass, 500 otherwise.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            Error::Invalid(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            e if e.is_retriable() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(error = %self.0, "request failed");
        }
        error_response(status, &self.0.to_string())
    }
}

/// `{"error": message}` with `status`.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// Adds `ops` (metrics, health), the JSON 404 fallback, JSON error bodies and request
/// counting to a service's `api`.
pub fn finish(api: Router, ops: Router, metrics: Metrics) -> Router {
    api.merge(ops)
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(metrics, count))
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

#[cfg(test)]
mod tests {
    use axum::extract::Query;
    use axum::routing::get;
    use prometheus::Registry;
    use tower::ServiceExt;

    use super::*;

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
        finish(api, Router::new(), metrics)
    }

    async fn call(method: Method, uri: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
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
