//! How a request's failure is answered: an [`Error`] becomes a status and a JSON `{"error": ...}`
//! body; a 5xx carries only an `error_id`, the details going to the log under the same id.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use crate::{Error, is_constraint_violation, is_refused_value};

/// An [`Error`] as an HTTP response: 400, 401, 403, 404, 409; 503 when it may pass, 500
/// otherwise, both without the error's text (logged with the `error_id` the answer carries).
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
            Error::Unauthenticated(_) => {
                let mut response = error_response(StatusCode::UNAUTHORIZED, &self.0.to_string());
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Db(e) if is_refused_value(e) => {
                tracing::warn!(error = %self.0, "the database refused a value of a request");
                return error_response(StatusCode::BAD_REQUEST, "a value of the request is not acceptable");
            }
            Error::Db(e) if is_constraint_violation(e) => {
                tracing::warn!(error = %self.0, "a request conflicts with stored data");
                return error_response(StatusCode::CONFLICT, "the request conflicts with stored data");
            }
            e if e.is_retriable() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            return server_error(status, &self.0);
        }
        error_response(status, &self.0.to_string())
    }
}

/// A 5xx that says only what kind of failure happened, with an id; the details go to the log
/// under the same id.
pub(crate) fn server_error(status: StatusCode, error: &dyn std::fmt::Display) -> Response {
    let error_id = Uuid::new_v4();
    tracing::error!(%error_id, error = %error, status = status.as_u16(), "request failed");
    let message = if status == StatusCode::SERVICE_UNAVAILABLE {
        "the service cannot answer now; try again"
    } else {
        "the request failed inside the service"
    };
    (status, Json(json!({"error": message, "error_id": error_id}))).into_response()
}

/// `{"error": message}` with `status`.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}
