//! The OpenAPI document's frame: title, security schemes and tags. Paths and schemas come
//! from the handlers' `#[utoipa::path]` attributes.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
pub const DOCS_PATH: &str = "/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parking service",
        description = "Register parked vehicles, find a car's owner in a keystroke, and keep personal data only as long as the retention policy allows."
    ),
    modifiers(&Security),
    tags(
        (name = "vehicles", description = "Parked vehicles"),
        (name = "search", description = "Live search over WebSocket"),
        (name = "retention", description = "How long personal data is kept"),
        (name = "maintenance", description = "Purge, clear and backups (admin)"),
        (name = "audit", description = "Who did what, without personal data (admin)"),
        (name = "keys", description = "API keys (admin)"),
        (name = "privacy", description = "Subject access and erasure (admin)"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Answers every operation can give that its handler does not choose: a body that is not JSON
/// or not well-formed, or too large (operations with a body), a full disk (operations that
/// write), and the rate limit and an unreachable or unwritable database (every API
/// operation). Added once here so that the
/// document lists every status a client can receive.
pub fn add_common_responses(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        Content, HttpMethod, RefOr,
        response::{Response, ResponseBuilder},
    };
    let problem = |description: &str| -> RefOr<Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    Content::new(Some(utoipa::openapi::Ref::from_schema_name("Problem"))),
                )
                .build(),
        )
    };
    let with_body = [
        ("400", "Malformed JSON (or anything after the JSON value)"),
        ("413", "Body over 64 KiB"),
        ("415", "Body is not JSON (Content-Type: application/json)"),
    ];
    let every = [
        ("429", "Over the rate limit (with Retry-After)"),
        (
            "503",
            "The database is unreachable or cannot be written, or the request took too long",
        ),
    ];
    let full = [("507", "The disk is full: nothing was written")];
    for (path, method, operation) in operations_mut(document) {
        if !path.starts_with("/api/v1/") || path == DOCUMENT_PATH {
            continue;
        }
        let has_body = operation.request_body.is_some();
        let writes = method != HttpMethod::Get;
        let responses = &mut operation.responses.responses;
        for (code, description) in every
            .iter()
            .chain(with_body.iter().filter(|_| has_body))
            .chain(full.iter().filter(|_| writes))
        {
            responses
                .entry((*code).to_owned())
                .or_insert_with(|| problem(description));
        }
    }
}

/// Every operation of the document, with its path and method.
fn operations_mut(
    document: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<
    Item = (
        &str,
        utoipa::openapi::HttpMethod,
        &mut utoipa::openapi::path::Operation,
    ),
> {
    use utoipa::openapi::HttpMethod;
    document.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            (HttpMethod::Get, item.get.as_mut()),
            (HttpMethod::Post, item.post.as_mut()),
            (HttpMethod::Put, item.put.as_mut()),
            (HttpMethod::Patch, item.patch.as_mut()),
            (HttpMethod::Delete, item.delete.as_mut()),
        ]
        .into_iter()
        .filter_map(move |(method, operation)| Some((path.as_str(), method, operation?)))
    })
}

/// How one operation's answer feeds the next: (operation, status, link name, target operation,
/// path parameter, where its value comes from). Clients (and stateful test tools) follow them
/// to act on what they just created: a registered vehicle is read, changed, held, revealed and
/// deleted by the plate the service answered with, a created key revoked by its id.
#[rustfmt::skip]
const LINKS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("register_vehicle", "201", "GetVehicle",      "get_vehicle",    "plate", "$response.body#/number_plate"),
    ("register_vehicle", "201", "UpdateVehicle",   "update_vehicle", "plate", "$response.body#/number_plate"),
    ("register_vehicle", "201", "DeleteVehicle",   "delete_vehicle", "plate", "$response.body#/number_plate"),
    ("register_vehicle", "201", "PlaceHold",       "place_hold",     "plate", "$response.body#/number_plate"),
    ("register_vehicle", "201", "RevealPhone",     "reveal_phone",   "plate", "$response.body#/number_plate"),
    ("update_vehicle",   "200", "GetVehicle",      "get_vehicle",    "plate", "$response.body#/number_plate"),
    ("update_vehicle",   "200", "DeleteVehicle",   "delete_vehicle", "plate", "$response.body#/number_plate"),
    ("place_hold",       "200", "LiftHold",        "lift_hold",      "plate", "$response.body#/number_plate"),
    ("place_hold",       "200", "GetVehicle",      "get_vehicle",    "plate", "$response.body#/number_plate"),
    ("create_key",       "201", "RevokeKey",       "revoke_key",     "id",    "$response.body#/id"),
    ("put_watch",        "200", "GetWatch",        "get_watch",      "plate", "$response.body#/number_plate"),
    ("put_watch",        "200", "DeleteWatch",     "delete_watch",   "plate", "$response.body#/number_plate"),
    ("put_watch",        "201", "GetWatch",        "get_watch",      "plate", "$response.body#/number_plate"),
    ("put_watch",        "201", "DeleteWatch",     "delete_watch",   "plate", "$response.body#/number_plate"),
];

/// Adds `LINKS` to the responses they start from.
pub fn add_links(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{RefOr, link::LinkBuilder};
    for (_, _, operation) in operations_mut(document) {
        let Some(id) = operation.operation_id.clone() else {
            continue;
        };
        for (_, status, name, target, parameter, value) in LINKS.iter().filter(|link| link.0 == id)
        {
            if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status) {
                let link = LinkBuilder::new()
                    .operation_id(*target)
                    .parameter(*parameter, *value)
                    .build();
                response.links.insert((*name).to_owned(), RefOr::T(link));
            }
        }
    }
}
