//! The OpenAPI document, generated from the handlers and types (utoipa); committed as
//! `docs/openapi.json` and checked against the code by a test.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::feed;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "idcard platform", description = "The national platform of the resident identity card three systems: signed commands from stations, online verification and certificate checks for units, citizens' own queries, and the signed delta feed."),
    paths(api::command, api::session, api::verify, api::check_certificate, api::citizen,
          api::feed, api::feed_file, api::healthz, api::metrics),
    components(schemas(api::SignedCommandDoc, api::WireAuthDoc, api::CommandResponse,
        api::ErrorBody, api::ErrorDetail, api::SessionRequest, api::SessionResponse,
        api::CardQuery, api::VerifyRequest, api::VerifyResponse, api::CertificateQuery,
        api::CertificateAnswer, api::CitizenAnswer, api::FoundAt, api::Health,
        feed::Listing, feed::FeedFile, feed::FileKind)),
    modifiers(&Bearer)
)]
struct ApiDoc;

/// The document, pretty-printed JSON (what `docs/openapi.json` holds).
pub fn document() -> String {
    let mut s = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
