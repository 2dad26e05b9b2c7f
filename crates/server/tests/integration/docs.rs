//! OpenAPI document and the offline docs pages.

use std::collections::BTreeSet;

use medico24_server::http::{api_routes, routing::RouteEntry};
use medico24_testkit::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn openapi_is_3_1_with_title_version_and_security_schemes() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Medico24 API");
    assert_eq!(doc["info"]["version"], "0.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["adminSecret"]["name"], "X-Admin-Secret");
    assert_eq!(schemes["metricsToken"]["type"], "http");
    assert!(doc["components"]["schemas"]["Error"].is_object());
    assert!(doc["components"]["schemas"]["ValidationError"].is_object());
}

#[tokio::test]
async fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                assert!(
                    operation["operationId"].is_string(),
                    "{method} {path} has no operationId"
                );
                assert!(
                    operation["tags"][0].is_string(),
                    "{method} {path} has no tag"
                );
                documented.insert(RouteEntry {
                    method: method.to_uppercase(),
                    template: path.clone(),
                });
            }
        }
    }
    let served = api_routes("/api/v1").catalog().entries;
    assert_eq!(served, documented);
}

#[tokio::test]
async fn docs_pages_load_only_same_origin_assets() {
    let app = spawn_app().await;
    for page in ["/docs", "/redoc"] {
        let response = app.get(page).await;
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        let html = response.text().await.unwrap();
        for src in html
            .split("src=\"")
            .skip(1)
            .chain(html.split("href=\"").skip(1))
        {
            let url = src.split('"').next().unwrap();
            assert!(url.starts_with('/'), "{page} references {url}");
            let asset = app.get(url).await;
            assert_eq!(asset.status(), StatusCode::OK, "{page} asset {url}");
        }
    }
}

#[tokio::test]
async fn the_oauth2_redirect_page_is_not_served() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/docs/oauth2-redirect.html").await.status(),
        StatusCode::NOT_FOUND
    );
}
