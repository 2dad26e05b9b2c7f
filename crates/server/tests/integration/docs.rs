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

/// The schema of `schema`'s property `name`, following one `$ref` into the components.
fn property<'a>(doc: &'a Value, schema: &'a Value, name: &str) -> Option<&'a Value> {
    let schema = match schema["$ref"].as_str() {
        Some(reference) => {
            let component = reference.strip_prefix("#/components/schemas/")?;
            &doc["components"]["schemas"][component]
        }
        None => schema,
    };
    schema["properties"].get(name)
}

#[tokio::test]
async fn every_link_leads_from_a_returned_field_to_a_parameter_of_an_existing_operation() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut operations = std::collections::HashMap::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            if let Some(id) = operation["operationId"].as_str() {
                operations.insert(id.to_owned(), operation);
            }
        }
    }
    let mut found = BTreeSet::new();
    for (source, operation) in &operations {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let Some(links) = response["links"].as_object() else {
                continue;
            };
            let body = &response["content"]["application/json"]["schema"];
            for (name, link) in links {
                let target = link["operationId"].as_str().unwrap();
                let target_operation = operations
                    .get(target)
                    .unwrap_or_else(|| panic!("{source} links to unknown operation {target}"));
                let declared: BTreeSet<&str> = target_operation["parameters"]
                    .as_array()
                    .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                for (parameter, expression) in link["parameters"].as_object().unwrap() {
                    assert!(
                        declared.contains(parameter.as_str()),
                        "{source} {status} link {name}: {target} has no parameter {parameter}"
                    );
                    let field = expression
                        .as_str()
                        .and_then(|e| e.strip_prefix("$response.body#/"))
                        .unwrap_or_else(|| panic!("unexpected expression {expression}"));
                    assert!(
                        property(&doc, body, field).is_some(),
                        "{source} {status} answers no `{field}` for link {name}"
                    );
                }
                found.insert((source.clone(), status.clone(), target.to_owned()));
            }
        }
    }
    let declared: BTreeSet<(String, String, String)> = medico24_server::openapi::LINKS
        .iter()
        .map(|(source, status, target, _)| {
            (
                (*source).to_owned(),
                (*status).to_owned(),
                (*target).to_owned(),
            )
        })
        .collect();
    assert_eq!(found, declared, "every declared link is in the document");
    assert!(found.contains(&(
        "create_appointment".to_owned(),
        "201".to_owned(),
        "get_appointment".to_owned()
    )));
}
