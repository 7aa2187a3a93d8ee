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
