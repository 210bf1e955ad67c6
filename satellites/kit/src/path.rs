//! Path parameters that are ids: `Ids<N>` extracts a route's first `N` parameters as UUIDs, and
//! one that is not a UUID is a 400 naming it after the parameter (`{agenda_item_id}`: "agenda
//! item id must be a UUID"). Routes name their id parameters after what they identify.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use uuid::Uuid;

use crate::Error;
use crate::api_error::ApiError;
use crate::input::parse_id;

/// The route's first `N` path parameters, each a UUID, in route order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids<const N: usize>(pub [Uuid; N]);

/// A route's one id parameter (`Ids([poll]): Id`).
pub type Id = Ids<1>;

impl<S: Send + Sync, const N: usize> FromRequestParts<S> for Ids<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError(Error::Invalid(e.body_text())))?;
        let mut ids = [Uuid::nil(); N];
        let mut found = 0;
        for ((name, value), id) in params.iter().zip(ids.iter_mut()) {
            let what = name.strip_suffix("_id").unwrap_or(name).replace('_', " ");
            *id = parse_id(value, &what)?;
            found += 1;
        }
        if found < N {
            // A route without the parameters its handler asks for: the code's mistake.
            let mistake = format!("the route has {found} path parameters, its handler wants {N}");
            return Err(ApiError(Error::Io(std::io::Error::other(mistake))));
        }
        Ok(Self(ids))
    }
}
