//! The election's page: title, seats, nominees, a link to its poll's page on the poll-service
//! (`POLL_PAGE_URL`), and the result once finalized. The HTML carries the poll page's address;
//! the script reads `GET /elections/{id}` and sets every text through `textContent`.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use vote_satellite_kit::http::asset;
pub use vote_satellite_kit::http::wants_html;

const TEMPLATE: &str = include_str!("page/election.html");
const SCRIPT: &str = include_str!("page/election.js");

/// The page, with the poll-service's address filled in.
#[derive(Debug, Clone)]
pub struct Page {
    html: String,
}

impl Page {
    /// The page linking polls at `poll_page_url` (an http(s) URL without a trailing slash).
    pub fn new(poll_page_url: &str) -> Self {
        let escaped =
            poll_page_url.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;");
        Self { html: TEMPLATE.replace("{{POLL_PAGE_URL}}", &escaped) }
    }

    /// The page as a response.
    pub fn response(&self) -> Response {
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
                (header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'"),
                (header::VARY, "accept"),
            ],
            self.html.clone(),
        )
            .into_response()
    }
}

/// The election page's script.
#[utoipa::path(get, path = "/election-page/election.js", tag = "page",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)))]
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}
