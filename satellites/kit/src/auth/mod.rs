//! Who is calling, and what they may do.
//!
//! **Authentication.** A protected handler takes a [`Caller`] argument: the request's
//! `Authorization: Bearer <JWT>` verified by the service's [`Authenticator`] (see [`verify`]).
//! No token or a token that does not verify is a 401 with a JSON error, before the handler
//! runs; the token itself is never logged nor echoed. Handlers without a `Caller` (health,
//! metrics, public reads) stay open.
//!
//! **Roles.** A token carries its roles in the `roles` claim (a list of strings):
//! - `manager:<meeting_id>`: manages that meeting (its agenda, its elections and polls);
//! - [`ORDER_CALLBACK_ROLE`]: may set an order's status (the order-callback service's account);
//! - [`INVENTORY_MANAGER_ROLE`]: may set the stock.
//!
//! A meeting's managers are also recorded by the platform: `meeting.created` grants its
//! creator the manager role, and the services that check it keep the grants they consumed. A
//! caller manages a meeting when the token holds `manager:<meeting_id>` **or** the caller's
//! subject is a recorded manager of it ([`Caller::require_manager`]): the identity provider can
//! delegate a meeting, and the creator needs no new token for the meeting just created.
//!
//! **AUTH_MODE=disabled** turns every check off, for local experiments only: the service logs a
//! warning at start, and every request is a caller holding every role whose subject matches
//! any body. It is never the default.

#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod token;
pub mod verify;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::FromRequestParts;
pub use axum::http::HeaderMap;
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

pub use verify::{Refusal, Verifier};

use crate::Error;
use crate::api_error::ApiError;
use vote_runtime::config::ConfigError;

/// Role that may set an order's status.
pub const ORDER_CALLBACK_ROLE: &str = "order-callback";
/// Role that may set the stock.
pub const INVENTORY_MANAGER_ROLE: &str = "inventory-manager";
/// Prefix of the role that manages one meeting: `manager:<meeting_id>`.
pub const MANAGER_ROLE_PREFIX: &str = "manager:";

/// `AUTH_*` settings as given; flattened into every service's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthArgs {
    /// `enabled`: protected endpoints need a valid bearer token. `disabled`: no checks at all,
    /// for local experiments only (a warning is logged at start).
    #[arg(long, env = "AUTH_MODE", value_name = "AUTH_MODE", default_value = "enabled")]
    pub auth_mode: String,
    /// JWKS file holding the identity provider's public keys (RS256 / ES256); required when
    /// enabled. Read at start.
    #[arg(long, env = "AUTH_JWKS_FILE", value_name = "AUTH_JWKS_FILE")]
    pub auth_jwks_file: Option<PathBuf>,
    /// Expected `iss` of tokens; required when enabled.
    #[arg(long, env = "AUTH_ISSUER", value_name = "AUTH_ISSUER")]
    pub auth_issuer: Option<String>,
    /// Expected `aud` of tokens (one of theirs); required when enabled.
    #[arg(long, env = "AUTH_AUDIENCE", value_name = "AUTH_AUDIENCE")]
    pub auth_audience: Option<String>,
}

/// Validated [`AuthArgs`]: the values are present when enabled; the JWKS is read at start by
/// [`Authenticator::from_settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSettings {
    /// Tokens are verified against this JWKS file, issuer and audience.
    Enabled {
        /// AUTH_JWKS_FILE.
        jwks_file: PathBuf,
        /// AUTH_ISSUER.
        issuer: String,
        /// AUTH_AUDIENCE.
        audience: String,
    },
    /// AUTH_MODE=disabled.
    Disabled,
}

impl vote_runtime::config::Validate for AuthArgs {
    type Settings = AuthSettings;

    fn validate(self) -> Result<AuthSettings, ConfigError> {
        match self.auth_mode.trim() {
            "enabled" => {}
            "disabled" => return Ok(AuthSettings::Disabled),
            _ => return Err(ConfigError::new("AUTH_MODE", "must be 'enabled' or 'disabled'")),
        }
        let required = |variable: &'static str, value: Option<String>| {
            value.filter(|v| !v.trim().is_empty()).map(|v| v.trim().to_owned()).ok_or_else(|| {
                ConfigError::new(variable, "required (AUTH_MODE=disabled turns authentication off, locally only)")
            })
        };
        let jwks_file = required("AUTH_JWKS_FILE", self.auth_jwks_file.map(|p| p.to_string_lossy().into_owned()))?;
        Ok(AuthSettings::Enabled {
            jwks_file: PathBuf::from(jwks_file),
            issuer: required("AUTH_ISSUER", self.auth_issuer)?,
            audience: required("AUTH_AUDIENCE", self.auth_audience)?,
        })
    }
}

/// What a service checks bearer tokens with.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// Verifies tokens.
    Verify(Arc<Verifier>),
    /// AUTH_MODE=disabled: every request is an unrestricted caller.
    Disabled,
}

impl Authenticator {
    /// Reads the JWKS file (when enabled); a problem names AUTH_JWKS_FILE. Logs a warning when
    /// authentication is disabled.
    pub fn from_settings(settings: &AuthSettings) -> Result<Self, ConfigError> {
        match settings {
            AuthSettings::Disabled => {
                tracing::warn!(
                    "AUTH_MODE=disabled: EVERY REQUEST IS TRUSTED WITHOUT A TOKEN. For local experiments only; \
                     never run a shared or public instance like this"
                );
                Ok(Self::Disabled)
            }
            AuthSettings::Enabled { jwks_file, issuer, audience } => {
                let text = std::fs::read_to_string(jwks_file).map_err(|e| {
                    ConfigError::new("AUTH_JWKS_FILE", format!("cannot read {}: {e}", jwks_file.display()))
                })?;
                let verifier = Verifier::from_jwks(&text, issuer, audience)
                    .map_err(|e| ConfigError::new("AUTH_JWKS_FILE", format!("{}: {e}", jwks_file.display())))?;
                Ok(Self::Verify(Arc::new(verifier)))
            }
        }
    }

    /// The caller of a request with these headers.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        let verifier = match self {
            Self::Disabled => return Ok(Caller::unrestricted()),
            Self::Verify(verifier) => verifier,
        };
        let value = headers.get(AUTHORIZATION).ok_or(Refusal::Missing)?;
        let value = value.to_str().map_err(|_| Refusal::Malformed)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(Refusal::Missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Refusal::Missing);
        }
        verifier.verify(token.trim())
    }
}

/// The authenticated caller of a request: the token's subject and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    subject: String,
    roles: BTreeSet<String>,
    unrestricted: bool,
}

impl Caller {
    /// A caller proven by a token.
    pub fn new(subject: String, roles: BTreeSet<String>) -> Self {
        Self { subject, roles, unrestricted: false }
    }

    /// The caller of every request under AUTH_MODE=disabled.
    fn unrestricted() -> Self {
        Self { subject: "anonymous".to_owned(), roles: BTreeSet::new(), unrestricted: true }
    }

    /// The token's `sub`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Whether the token holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.unrestricted || self.roles.contains(role)
    }

    /// [`Error::Forbidden`] unless the token holds `role`.
    pub fn require_role(&self, role: &str) -> Result<(), Error> {
        if self.has_role(role) { Ok(()) } else { Err(Error::Forbidden(format!("this needs the '{role}' role"))) }
    }

    /// [`Error::Forbidden`] unless `value` (the body's `field`) is the caller's subject: one
    /// acts only in one's own name.
    pub fn require_subject(&self, field: &str, value: &str) -> Result<(), Error> {
        if self.unrestricted || value == self.subject {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("'{field}' must be the authenticated caller")))
        }
    }

    /// Whom a request that may name a person in `field` acts for: the caller. Naming anyone
    /// else is [`Error::Forbidden`]; under AUTH_MODE=disabled the field is required and names
    /// anyone.
    pub fn acting_as(&self, field: &str, named: Option<String>) -> Result<String, Error> {
        match named {
            Some(name) => {
                self.require_subject(field, &name)?;
                Ok(name)
            }
            None if self.unrestricted => Err(Error::Invalid(format!("missing '{field}' (authentication is disabled)"))),
            None => Ok(self.subject.clone()),
        }
    }

    /// [`Error::Forbidden`] unless the caller manages `meeting_id`: the token holds
    /// `manager:<meeting_id>`, or `is_recorded_manager(subject)` says the platform granted it
    /// (asked only when the token does not settle it).
    pub async fn require_manager<F, Fut>(&self, meeting_id: &str, is_recorded_manager: F) -> Result<(), Error>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<bool, Error>>,
    {
        if self.has_role(&format!("{MANAGER_ROLE_PREFIX}{meeting_id}"))
            || is_recorded_manager(self.subject.clone()).await?
        {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("only a manager of meeting {meeting_id} may do this")))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        // Verified already by the rate limit of write requests.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        // The kit's HTTP stack always installs the service's authenticator; without one,
        // nobody is authenticated.
        let Some(authenticator) = parts.extensions.get::<Authenticator>() else {
            return Err(Error::Unauthenticated("authentication is not configured".to_owned()).into());
        };
        authenticator.authenticate(&parts.headers).map_err(|refusal| {
            // The reason and the route, never the header: it holds the credential.
            let method: &Method = &parts.method;
            tracing::info!(reason = refusal.label(), %method, path = %parts.uri.path(), "request not authenticated");
            ApiError(Error::Unauthenticated(refusal.to_string()))
        })
    }
}

#[cfg(test)]
mod tests;
