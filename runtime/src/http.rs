//! The ops endpoints every service exposes: `/metrics` (Prometheus text), `/healthz` (the
//! process answers), `/health` (the same as `{"status":"ok"}`, the seeds' convention) and
//! `/readyz` (its dependencies answer).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use prometheus::{Encoder, Registry, TextEncoder};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A readiness probe: `Ok` when the service can do its job, `Err(why)` otherwise.
pub type ReadinessCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// `/metrics`, `/healthz`, `/health` and `/readyz`, to serve alone or merge into a service's
/// router.
pub fn ops_router(registry: Registry, readiness: ReadinessCheck) -> Router {
    Router::new()
        .route("/metrics", get(move || metrics(registry.clone())))
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(move || ready(readiness.clone())))
}

async fn metrics(registry: Registry) -> impl IntoResponse {
    let mut body = Vec::with_capacity(16 * 1024);
    match TextEncoder::new().encode(&registry.gather(), &mut body) {
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn ready(readiness: ReadinessCheck) -> impl IntoResponse {
    match readiness().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")),
    }
}

/// Binds `0.0.0.0:port` (port 0 picks a free one). Errors name the port.
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("0.0.0.0", port))
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on port {port}: {e}")))
}

/// Serves `router` on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str, ready: bool) -> (StatusCode, Option<String>, String) {
        let readiness: ReadinessCheck =
            Arc::new(move || Box::pin(async move { if ready { Ok(()) } else { Err("db down".to_owned()) } }));
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        let response = ops_router(Registry::new(), readiness).oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, content_type, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_answers_the_seeds_json_besides_healthz_and_readyz() {
        let (status, content_type, body) = get("/health", false).await;
        assert_eq!((status, content_type.as_deref()), (StatusCode::OK, Some("application/json")));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap(), json!({"status": "ok"}));
        assert_eq!(get("/healthz", false).await.0, StatusCode::OK);
        let (status, _, body) = get("/readyz", false).await;
        assert_eq!((status, body.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "not ready: db down\n"));
        assert_eq!(get("/readyz", true).await.0, StatusCode::OK);
    }
}
