//! The REST API, `/api/v1/...`: one module per resource. Each module holds the operation
//! as a plain function (`list`, `create`, ...), which both the JSON handler beside it and
//! the HTML forms of [`crate::pages`] call, and the JSON handlers with their OpenAPI
//! annotations; [`ApiDoc`] gathers them into the OpenAPI 3 document served at
//! `/api/v1/openapi.json`.

pub mod accounts;
pub mod assigned;
pub mod audit;
pub mod calls;
pub mod click_to_dial;
pub mod domains;
pub mod forwarding;
pub mod greeting;
pub mod invoices;
pub mod live_calls;
pub mod rates;
pub mod registrations;
pub mod session;
pub mod settings;
pub mod signup;
pub mod status;
pub mod subscribers;
pub mod voicemail;

use axum::routing::{delete, get, put};
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::Problem;
use crate::AppState;

/// The OpenAPI 3 document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "itsp",
        description = "The REST API of itsp: domains, subscribers, aliases, groups, call \
            forwarding, voicemail settings, registrations, call history (JSON and CSV), calls in progress (and \
            their hang-up), click-to-dial, accounts, invoices (JSON, PDF, HTML), rating plans (import, list, \
            price a call), voicemail (messages and the personal greeting), the audit log of admin changes, self-registration (where a domain allows it) and the system status. Errors are \
            application/problem+json (RFC 9457) with `field` naming the member at fault. \
            Authenticate with `Authorization: Bearer TOKEN` (itsp token create) or the \
            session cookie of POST /api/v1/session (then send X-CSRF-Token with changes)."
    ),
    paths(
        status::get_status,
        session::create_session,
        session::get_session,
        session::delete_session,
        signup::create_signup,
        signup::confirm_signup,
        domains::list_domains,
        domains::create_domain,
        domains::delete_domain,
        domains::update_domain,
        subscribers::list_subscribers,
        subscribers::create_subscriber,
        subscribers::get_subscriber,
        subscribers::update_subscriber,
        subscribers::delete_subscriber,
        assigned::list_aliases,
        assigned::add_alias,
        assigned::delete_alias,
        assigned::list_groups,
        assigned::put_group,
        assigned::delete_group,
        forwarding::get_forwarding,
        forwarding::put_forwarding,
        settings::get_settings,
        settings::put_settings,
        registrations::list_registrations,
        registrations::delete_registration,
        registrations::list_all_registrations,
        calls::list_calls,
        calls::list_calls_csv,
        calls::list_all_calls,
        accounts::get_account,
        accounts::put_account,
        accounts::delete_account,
        accounts::list_ledger,
        accounts::create_top_up,
        voicemail::list_voicemail,
        voicemail::get_voicemail_audio,
        voicemail::delete_voicemail,
        voicemail::update_voicemail,
        greeting::get_greeting,
        greeting::put_greeting,
        greeting::delete_greeting,
        rates::import_rates,
        rates::list_rates,
        rates::test_rate,
        invoices::list_invoices,
        invoices::list_subscriber_invoices,
        invoices::get_invoice,
        invoices::get_invoice_pdf,
        invoices::get_invoice_html,
        live_calls::list_live_calls,
        live_calls::delete_live_call,
        click_to_dial::create_click_to_dial,
        audit::list_audit,
    ),
    components(schemas(Problem, crate::problem::LineError)),
    modifiers(&Security),
    security(("bearer" = []), ("session" = []))
)]
pub struct ApiDoc;

/// Adds the two ways to authenticate to the document.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a token of `itsp token create`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The document as JSON.
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The routes of `/api/v1`.
pub fn router() -> Router<AppState> {
    use assigned as a;
    use registrations as r;
    use subscribers as s;
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/status", get(status::get_status))
        .route(
            "/api/v1/session",
            get(session::get_session)
                .post(session::create_session)
                .delete(session::delete_session),
        )
        .route("/api/v1/signup", axum::routing::post(signup::create_signup))
        .route(
            "/api/v1/signup/confirm",
            axum::routing::post(signup::confirm_signup),
        )
        .route(
            "/api/v1/domains",
            get(domains::list_domains).post(domains::create_domain),
        )
        .route(
            "/api/v1/domains/{domain}",
            delete(domains::delete_domain).patch(domains::update_domain),
        )
        .route(
            "/api/v1/subscribers",
            get(s::list_subscribers).post(s::create_subscriber),
        )
        .route(
            "/api/v1/subscribers/{address}",
            get(s::get_subscriber)
                .patch(s::update_subscriber)
                .delete(s::delete_subscriber),
        )
        .route(
            "/api/v1/subscribers/{address}/aliases",
            get(a::list_aliases).post(a::add_alias),
        )
        .route(
            "/api/v1/subscribers/{address}/aliases/{alias}",
            delete(a::delete_alias),
        )
        .route("/api/v1/subscribers/{address}/groups", get(a::list_groups))
        .route(
            "/api/v1/subscribers/{address}/groups/{group}",
            put(a::put_group).delete(a::delete_group),
        )
        .route(
            "/api/v1/subscribers/{address}/calls",
            get(calls::list_calls),
        )
        .route(
            "/api/v1/subscribers/{address}/calls.csv",
            get(calls::list_calls_csv),
        )
        .route("/api/v1/calls", get(calls::list_all_calls))
        .route(
            "/api/v1/subscribers/{address}/voicemail",
            get(voicemail::list_voicemail),
        )
        .route(
            "/api/v1/subscribers/{address}/voicemail/{id}",
            delete(voicemail::delete_voicemail).patch(voicemail::update_voicemail),
        )
        .route(
            "/api/v1/subscribers/{address}/voicemail/{id}/audio",
            get(voicemail::get_voicemail_audio),
        )
        .route(
            "/api/v1/subscribers/{address}/greeting",
            get(greeting::get_greeting)
                .put(greeting::put_greeting)
                .delete(greeting::delete_greeting)
                .route_layer(axum::extract::DefaultBodyLimit::max(
                    greeting::MAX_GREETING_BODY_BYTES,
                )),
        )
        .route(
            "/api/v1/subscribers/{address}/account",
            get(accounts::get_account)
                .put(accounts::put_account)
                .delete(accounts::delete_account),
        )
        .route(
            "/api/v1/subscribers/{address}/account/ledger",
            get(accounts::list_ledger),
        )
        .route(
            "/api/v1/subscribers/{address}/account/topups",
            axum::routing::post(accounts::create_top_up),
        )
        .route(
            "/api/v1/subscribers/{address}/forwarding",
            get(forwarding::get_forwarding).put(forwarding::put_forwarding),
        )
        .route(
            "/api/v1/subscribers/{address}/settings",
            get(settings::get_settings).put(settings::put_settings),
        )
        .route(
            "/api/v1/subscribers/{address}/registrations",
            get(r::list_registrations).delete(r::delete_registration),
        )
        .route("/api/v1/registrations", get(r::list_all_registrations))
        .route(
            "/api/v1/rates",
            get(rates::list_rates)
                .post(rates::import_rates)
                .route_layer(axum::extract::DefaultBodyLimit::max(
                    rates::MAX_TARIFF_BYTES,
                )),
        )
        .route("/api/v1/rates/test", get(rates::test_rate))
        .route("/api/v1/invoices", get(invoices::list_invoices))
        // {id}, {id}.pdf and {id}.html: one route, the suffix picks the answer.
        .route("/api/v1/invoices/{id}", get(invoices::get_invoice))
        .route(
            "/api/v1/subscribers/{address}/invoices",
            get(invoices::list_subscriber_invoices),
        )
        .route("/api/v1/audit", get(audit::list_audit))
        .route("/api/v1/calls/live", get(live_calls::list_live_calls))
        .route(
            "/api/v1/calls/live/{call_id}",
            delete(live_calls::delete_live_call),
        )
        .route(
            "/api/v1/subscribers/{address}/click-to-dial",
            axum::routing::post(click_to_dial::create_click_to_dial),
        )
}
