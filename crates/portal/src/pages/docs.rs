//! `/api/docs`: a page that renders the OpenAPI document of `/api/v1/openapi.json` with
//! the embedded `api-docs.js` (no script or style from elsewhere).

use axum::response::Html;

use super::{layout, MaybeCaller};

/// The API browser.
pub async fn show(MaybeCaller(caller): MaybeCaller) -> Html<String> {
    let body = r#"<h1>REST API</h1>
<p class="lead">Every endpoint of <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3). Authenticate with <code>Authorization: Bearer TOKEN</code> (<code>itsp token create --admin</code>) or a session of <code>POST /api/v1/session</code>.</p>
<div id="api-docs"><noscript>This list needs JavaScript; the document itself is at /api/v1/openapi.json.</noscript></div>
<script src="/assets/api-docs.js"></script>"#;
    Html(layout("REST API", caller.as_ref(), body))
}
