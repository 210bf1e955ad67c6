//! The OpenAPI 3.1 document every HTTP service serves at `GET /openapi.json`, generated from the
//! code: handlers carry `#[utoipa::path]` and a service registers them through utoipa-axum's
//! [`OpenApiRouter`] with [`routes!`], so a route is served only where it is documented.
//!
//! [`document`] adds what every service shares: the bearer-token scheme (an operation's roles
//! are the role names of its security requirement, as OpenAPI 3.1 allows for non-OAuth
//! schemes), the error body [`ErrorBody`], the answers the kit's own layers give to any request
//! (400 for hostile input, 408, 413, 429 for writes, 500, 503; 401 and 403 where a token is
//! required) and the ops endpoints (`/healthz`, `/health`, `/readyz`, `/metrics`).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder, Responses,
};
use utoipa::{PartialSchema, ToSchema};
pub use utoipa_axum::router::OpenApiRouter;
pub use utoipa_axum::routes;

/// The name of the bearer-token security scheme; operations name it with their roles:
/// `security(("bearer" = ["manager"]))`, or `("bearer" = [])` for any signed-in caller.
pub const BEARER: &str = "bearer";

/// Every failure's body: `{"error": ...}`; a 5xx carries the `error_id` of its log line instead
/// of any internal text.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person to read.
    pub error: String,
    /// On a 5xx: the id under which the service logged the details.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub error_id: Option<String>,
}

/// What a service says about itself in its document.
pub struct About {
    /// The service's name (`poll-service`).
    pub title: &'static str,
    /// The crate's version.
    pub version: &'static str,
    /// What the service does, a few sentences.
    pub description: &'static str,
}

/// The service's finished document: `api` (from [`OpenApiRouter::split_for_parts`]) with the
/// shared scheme, error body, answers of the kit's layers and ops endpoints.
pub fn document(about: &About, mut api: OpenApi) -> OpenApi {
    api.info = InfoBuilder::new()
        .title(about.title)
        .version(about.version)
        .description(Some(about.description))
        .license(Some(utoipa::openapi::License::new("MIT")))
        .build();
    let components = api.components.take().unwrap_or_else(|| ComponentsBuilder::new().build());
    let components = ComponentsBuilder::from(components)
        .security_scheme(
            BEARER,
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        )
        .schema(ErrorBody::name(), ErrorBody::schema())
        .build();
    api.components = Some(components);
    for item in api.paths.paths.values_mut() {
        for (method, operation) in operations(item) {
            add_kit_answers(method, operation);
        }
    }
    add_ops(&mut api);
    api
}

/// The router of `api` with `GET /openapi.json` serving its finished [`document`].
pub fn serve(about: &About, api: OpenApiRouter) -> Router {
    let (router, api) = api.split_for_parts();
    router.merge(route(&document(about, api)))
}

/// `GET /openapi.json`, serving `document` (rendered once).
fn route(document: &OpenApi) -> Router {
    let body = document.to_pretty_json().expect("an OpenAPI document renders as JSON");
    Router::new().route(
        "/openapi.json",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }),
    )
}

/// An error answer with [`ErrorBody`], described as `description`.
pub fn error_answer(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorBody::name()))).build(),
        )
        .build()
}

fn operations(item: &mut PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
    .collect()
}

/// The answers any operation may get from the kit's layers, unless it describes them itself.
fn add_kit_answers(method: HttpMethod, operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut answers = vec![
        (
            "400",
            "Refused before the handler: a NUL or invalid UTF-8 in the path, query or a JSON string (the answer names the field)",
        ),
        ("408", "The request did not arrive in time"),
        ("413", "The body is larger than the service accepts"),
        ("500", "Failed inside the service (the answer carries the log line's error_id)"),
        ("503", "A server the service needs (database, broker) cannot answer now; try again"),
    ];
    if method != HttpMethod::Get {
        answers
            .push(("429", "Too many write requests from this caller; the Retry-After header says when to try again"));
    }
    if secured {
        answers.push(("401", "No valid bearer token (WWW-Authenticate: Bearer)"));
        answers.push(("403", "The token's caller may not do this"));
    }
    let responses: &mut Responses = &mut operation.responses;
    for (status, description) in answers {
        responses.responses.entry(status.to_owned()).or_insert_with(|| RefOr::T(error_answer(description)));
    }
}

fn add_ops(api: &mut OpenApi) {
    let text = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("text/plain", ContentBuilder::new().schema(Some(String::schema())).build())
            .build()
    };
    let operation = |summary: &str, responses: Vec<(&str, Response)>| {
        let mut builder = OperationBuilder::new().summary(Some(summary)).tag("ops");
        for (status, response) in responses {
            builder = builder.response(status, response);
        }
        PathItem::new(HttpMethod::Get, builder.build())
    };
    let status_schema = utoipa::openapi::ObjectBuilder::new()
        .property("status", utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String))
        .required("status")
        .build();
    let ops = [
        ("/healthz", operation("The process is alive", vec![("200", text("`ok`"))])),
        (
            "/health",
            operation(
                "The process is alive (JSON)",
                vec![(
                    "200",
                    ResponseBuilder::new()
                        .description("`{\"status\": \"ok\"}`")
                        .content("application/json", ContentBuilder::new().schema(Some(status_schema)).build())
                        .build(),
                )],
            ),
        ),
        (
            "/readyz",
            operation(
                "The service can do its work: every consumer subscribed, every database reachable",
                vec![("200", text("`ready`")), ("503", error_answer("`not ready: <why>`"))],
            ),
        ),
        ("/metrics", operation("Prometheus metrics, text exposition format", vec![("200", text("the metrics"))])),
        (
            "/openapi.json",
            operation(
                "This document",
                vec![(
                    "200",
                    ResponseBuilder::new()
                        .description("OpenAPI 3.1")
                        .content(
                            "application/json",
                            ContentBuilder::new().schema(Some(utoipa::openapi::Object::new())).build(),
                        )
                        .build(),
                )],
            ),
        ),
    ];
    for (path, item) in ops {
        api.paths.paths.insert(path.to_owned(), item);
    }
    api.paths.paths.sort_keys();
}
