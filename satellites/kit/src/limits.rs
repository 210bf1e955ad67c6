//! How much of a service one client may use: how long it may take to send a request's headers
//! (which is also how long an idle connection is kept) and its body, how many connections are
//! served at once, and how many write requests per second one caller may make.
//!
//! The caller of the rate limit is the subject of a valid bearer token, or the peer's address
//! when there is none (or it does not verify), so that spoiled tokens cannot spread one client
//! over many budgets. Reads are not limited, nor are callers holding a role of
//! `HTTP_RATE_LIMIT_EXEMPT_ROLES` (service accounts that write for many people, such as the
//! order-callback). A refused request gets 429 with `Retry-After`
//! (whole seconds) and a JSON error, before its body is read.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use vote_runtime::config::{ConfigError, Validate};

use crate::api_error::error_response;
use crate::auth::{Authenticator, ORDER_CALLBACK_ROLE};

/// Largest request body accepted (a 413 beyond), unless a service raises it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Shortest timeout accepted, in milliseconds.
const MIN_TIMEOUT_MS: u64 = 100;
/// Longest timeout accepted, in milliseconds.
const MAX_TIMEOUT_MS: u64 = 300_000;
/// How often the rate limiter forgets callers that have their whole burst back.
pub const FORGET_INTERVAL: Duration = Duration::from_secs(60);

/// HTTP_* limits every service takes.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Milliseconds a client has to send a request's headers; an idle connection is closed
    /// after as long.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_MS", value_name = "HTTP_HEADER_TIMEOUT_MS", default_value_t = 5_000)]
    pub http_header_timeout_ms: u64,
    /// Milliseconds a client has to send a request's body once its headers are in (408 after).
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT_MS", value_name = "HTTP_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub http_request_timeout_ms: u64,
    /// Connections served at once; further ones wait to be accepted.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", value_name = "HTTP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub http_max_connections: usize,
    /// Write requests (POST, PUT, PATCH, DELETE) per second one caller may make on average;
    /// 0 turns the limit off.
    #[arg(long, env = "HTTP_RATE_LIMIT", value_name = "HTTP_RATE_LIMIT", default_value_t = 20)]
    pub http_rate_limit: u32,
    /// Write requests one caller may make at once before the average applies.
    #[arg(long, env = "HTTP_RATE_BURST", value_name = "HTTP_RATE_BURST", default_value_t = 40)]
    pub http_rate_burst: u32,
    /// Roles whose holders the rate limit lets through, comma-separated (service accounts
    /// writing for many people); empty for none.
    #[arg(
        long,
        env = "HTTP_RATE_LIMIT_EXEMPT_ROLES",
        value_name = "HTTP_RATE_LIMIT_EXEMPT_ROLES",
        default_value = ORDER_CALLBACK_ROLE
    )]
    pub http_rate_limit_exempt_roles: String,
}

impl Default for HttpArgs {
    fn default() -> Self {
        Self {
            http_header_timeout_ms: 5_000,
            http_request_timeout_ms: 10_000,
            http_max_connections: 1024,
            http_rate_limit: 20,
            http_rate_burst: 40,
            http_rate_limit_exempt_roles: ORDER_CALLBACK_ROLE.to_owned(),
        }
    }
}

/// Validated [`HttpArgs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// HTTP_HEADER_TIMEOUT_MS.
    pub header_timeout: Duration,
    /// HTTP_REQUEST_TIMEOUT_MS.
    pub request_timeout: Duration,
    /// HTTP_MAX_CONNECTIONS.
    pub max_connections: usize,
    /// HTTP_RATE_LIMIT and HTTP_RATE_BURST; `None` when off.
    pub rate: Option<Quota>,
    /// HTTP_RATE_LIMIT_EXEMPT_ROLES.
    pub exempt_roles: Vec<String>,
    /// Largest request body: [`MAX_BODY_BYTES`] unless a service raises it for
    /// routes that take more (each route may set a lower limit of its own).
    pub max_body: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpArgs::default().validate().unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"))
    }
}

impl Validate for HttpArgs {
    type Settings = HttpLimits;

    fn validate(self) -> Result<HttpLimits, ConfigError> {
        let timeout = |variable: &'static str, ms: u64| {
            if (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&ms) {
                Ok(Duration::from_millis(ms))
            } else {
                Err(ConfigError::new(variable, format!("must be from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}")))
            }
        };
        if self.http_max_connections == 0 {
            return Err(ConfigError::new("HTTP_MAX_CONNECTIONS", "must be at least 1"));
        }
        let rate = match NonZeroU32::new(self.http_rate_limit) {
            None => None,
            Some(per_second) => {
                let burst = NonZeroU32::new(self.http_rate_burst).ok_or_else(|| {
                    ConfigError::new("HTTP_RATE_BURST", "must be at least 1 while HTTP_RATE_LIMIT is on")
                })?;
                Some(Quota::per_second(per_second).allow_burst(burst))
            }
        };
        Ok(HttpLimits {
            header_timeout: timeout("HTTP_HEADER_TIMEOUT_MS", self.http_header_timeout_ms)?,
            request_timeout: timeout("HTTP_REQUEST_TIMEOUT_MS", self.http_request_timeout_ms)?,
            max_connections: self.http_max_connections,
            rate,
            exempt_roles: self
                .http_rate_limit_exempt_roles
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            max_body: MAX_BODY_BYTES,
        })
    }
}

/// The per-caller limit of write requests, with the authenticator that tells callers apart.
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    authenticator: Option<Authenticator>,
    exempt_roles: Arc<[String]>,
}

impl RateLimit {
    /// A limit of `quota` per caller; without an authenticator every caller is its address.
    /// Inside a Tokio runtime, callers that have their whole burst back are forgotten every
    /// [`FORGET_INTERVAL`] for as long as the limit is in use, so that its table holds only
    /// recent callers.
    pub fn new(quota: Quota, authenticator: Option<Authenticator>, exempt_roles: &[String]) -> Self {
        let limiter = Arc::new(DefaultKeyedRateLimiter::keyed(quota));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&limiter);
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(FORGET_INTERVAL).await;
                    let Some(limiter) = weak.upgrade() else { return };
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            });
        }
        Self { limiter, authenticator, exempt_roles: exempt_roles.into() }
    }

    /// Whose budget a request spends: `sub:<subject>` of a token that verifies, else
    /// `addr:<peer address>`; `None` for an exempt caller. A verified caller is kept in the
    /// request for the handler.
    fn key(&self, request: &mut Request) -> Option<String> {
        if let Some(authenticator) = &self.authenticator
            && let Ok(caller) = authenticator.authenticate(request.headers())
        {
            let exempt = self.exempt_roles.iter().any(|role| caller.has_role(role));
            let key = format!("sub:{}", caller.subject());
            request.extensions_mut().insert(caller);
            return (!exempt).then_some(key);
        }
        Some(match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => format!("addr:{}", peer.ip()),
            None => "addr:unknown".to_owned(),
        })
    }
}

/// Refuses a write request over its caller's budget with 429, `Retry-After` and a JSON error.
pub async fn rate_limit(State(limit): State<RateLimit>, mut request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        return next.run(request).await;
    }
    let Some(key) = limit.key(&mut request) else { return next.run(request).await };
    match limit.limiter.check_key(&key) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let seconds = seconds.max(1);
            tracing::info!(caller = %key, retry_after = seconds, "write request over the caller's rate limit");
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("too many write requests from this caller; retry after {seconds} s"),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        let limits = HttpLimits::default();
        assert_eq!((limits.header_timeout, limits.max_connections), (Duration::from_secs(5), 1024));
        let quota = Quota::per_second(NonZeroU32::new(20).unwrap()).allow_burst(NonZeroU32::new(40).unwrap());
        assert_eq!(limits.rate, Some(quota));
        let off = HttpArgs { http_rate_limit: 0, http_rate_burst: 0, ..HttpArgs::default() };
        assert_eq!(off.validate().unwrap().rate, None);
        assert_eq!(limits.exempt_roles, [ORDER_CALLBACK_ROLE]);
        let roles =
            HttpArgs { http_rate_limit_exempt_roles: " gateway, ,order-callback".to_owned(), ..HttpArgs::default() };
        assert_eq!(roles.validate().unwrap().exempt_roles, ["gateway", "order-callback"]);
        for (args, variable) in [
            (HttpArgs { http_header_timeout_ms: 99, ..HttpArgs::default() }, "HTTP_HEADER_TIMEOUT_MS"),
            (HttpArgs { http_request_timeout_ms: 300_001, ..HttpArgs::default() }, "HTTP_REQUEST_TIMEOUT_MS"),
            (HttpArgs { http_max_connections: 0, ..HttpArgs::default() }, "HTTP_MAX_CONNECTIONS"),
            (HttpArgs { http_rate_burst: 0, ..HttpArgs::default() }, "HTTP_RATE_BURST"),
        ] {
            let error = args.validate().unwrap_err();
            assert!(error.to_string().contains(variable), "{error}");
        }
    }
}
