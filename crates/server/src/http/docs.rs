//! API documentation served by the service itself: `/openapi.json`, Swagger UI at
//! `/docs` (assets vendored from crates.io) and ReDoc at `/redoc` (bundle embedded from the npm
//! package `redoc`). A Content-Security-Policy keeps the pages from loading anything else, and
//! nothing in them asks for anything else: the one remote image of the ReDoc bundle (the logo of
//! its sidebar footer) is replaced when the bundle is served. Every docs route also answers
//! `HEAD` (link checkers, uptime probes), with the headers of its `GET` and no body.

use std::sync::{Arc, LazyLock};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa_swagger_ui::Config;

use super::error::{ApiError, ApiResult};
use crate::state::AppState;

const REDOC_BUNDLE: &[u8] = include_bytes!("../../assets/redoc.standalone.js");

/// The remote image the ReDoc bundle shows in its sidebar footer ("API docs by Redocly").
pub const REDOC_REMOTE_LOGO: &str = "https://cdn.redoc.ly/redoc/logo-mini.svg";

/// What the footer shows instead: an empty inline image (the link text stays).
const REDOC_INLINE_LOGO: &str =
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E";

/// The bundle as served: [`REDOC_REMOTE_LOGO`] replaced by [`REDOC_INLINE_LOGO`], so the page
/// makes no request the Content-Security-Policy would block.
static REDOC_SERVED: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let bundle = String::from_utf8_lossy(REDOC_BUNDLE);
    bundle
        .replace(REDOC_REMOTE_LOGO, REDOC_INLINE_LOGO)
        .into_bytes()
});

/// Only same-origin resources; inline bootstrap scripts and styles; ReDoc's blob workers.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'";

const SWAGGER_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Medico24 API — Swagger UI</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    });
  </script>
</body>
</html>
"##;

const REDOC_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Medico24 API — ReDoc</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="/openapi.json"></redoc>
  <script src="/redoc/redoc.standalone.js"></script>
</body>
</html>
"#;

fn html(page: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, DOCS_CSP))
        .body(page)
}

/// `GET /openapi.json`.
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.as_ref().clone())
}

/// `GET /docs`: the Swagger UI page.
pub async fn swagger_page() -> HttpResponse {
    html(SWAGGER_PAGE)
}

/// `GET /docs/{file}`: Swagger UI's static assets (no OAuth2 redirect page: no OAuth2 flow).
pub async fn swagger_asset(file: web::Path<String>) -> ApiResult<HttpResponse> {
    let file = file.into_inner();
    if file.is_empty() || file == "index.html" {
        return Ok(swagger_page().await);
    }
    if file.starts_with("oauth2-redirect") || file == "swagger-initializer.js" {
        return Err(ApiError::not_found("Not Found"));
    }
    let config = Arc::new(Config::new(["/openapi.json"]));
    match utoipa_swagger_ui::serve(&file, config) {
        Ok(Some(asset)) => Ok(HttpResponse::Ok()
            .content_type(asset.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(asset.bytes.into_owned())),
        Ok(None) => Err(ApiError::not_found("Not Found")),
        Err(error) => Err(ApiError::internal(error)),
    }
}

/// `GET /redoc`: the ReDoc page.
pub async fn redoc_page() -> HttpResponse {
    html(REDOC_PAGE)
}

/// `GET /redoc/redoc.standalone.js`: the embedded ReDoc bundle, as [`REDOC_SERVED`] says.
pub async fn redoc_bundle() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(REDOC_SERVED.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_names_the_remote_logo_once_and_the_served_bundle_never() {
        // A new ReDoc version that moves or renames the image fails here, not in a browser.
        let bundle = String::from_utf8_lossy(REDOC_BUNDLE);
        assert_eq!(bundle.matches(REDOC_REMOTE_LOGO).count(), 1);
        let served = String::from_utf8_lossy(&REDOC_SERVED);
        assert!(!served.contains("cdn.redoc.ly"));
        assert!(served.contains(REDOC_INLINE_LOGO));
        assert_eq!(
            served.len(),
            bundle.len() - REDOC_REMOTE_LOGO.len() + REDOC_INLINE_LOGO.len()
        );
    }

    #[test]
    fn both_pages_name_the_same_icon() {
        // Swagger UI's icon, served under `/docs`; without it browsers ask for /favicon.ico.
        let icon = r#"<link rel="icon" type="image/png" href="/docs/favicon-32x32.png""#;
        assert!(SWAGGER_PAGE.contains(icon));
        assert!(REDOC_PAGE.contains(icon));
    }
}
