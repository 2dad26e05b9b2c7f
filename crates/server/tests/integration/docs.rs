//! OpenAPI document and the offline docs pages.

use std::collections::BTreeSet;

use medico24_server::http::{api_routes, routing::RouteEntry, routing::routed_path};
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
    // The document names each path in its form without a trailing slash; the server answers
    // both forms the same.
    let served: BTreeSet<RouteEntry> = api_routes("/api/v1")
        .catalog()
        .entries
        .into_iter()
        .map(|entry| RouteEntry {
            template: routed_path(&entry.template).to_owned(),
            ..entry
        })
        .collect();
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
async fn both_path_forms_of_a_documented_path_reach_the_same_operation() {
    let app = spawn_app().await;
    for path in ["/api/v1/clinics", "/api/v1/clinics/"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn docs_routes_answer_head_with_the_headers_of_get_and_no_body() {
    let app = spawn_app().await;
    for path in [
        "/docs",
        "/redoc",
        "/openapi.json",
        "/redoc/redoc.standalone.js",
        "/docs/swagger-ui.css",
        "/docs/favicon-32x32.png",
    ] {
        let get = app.get(path).await;
        assert_eq!(get.status(), StatusCode::OK, "GET {path}");
        let content_type = get.headers()["content-type"].clone();
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "HEAD {path}");
        assert_eq!(head.headers()["content-type"], content_type, "HEAD {path}");
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} sent a body"
        );
    }
    // Other methods are still refused, and `Allow` names both.
    let post = app.client.post(app.url("/docs")).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn both_pages_have_an_icon_that_is_served() {
    let app = spawn_app().await;
    for page in ["/docs", "/redoc"] {
        let html = app.get(page).await.text().await.unwrap();
        let icon = html
            .split("<link rel=\"icon\"")
            .nth(1)
            .and_then(|rest| rest.split("href=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{page} names no icon"));
        let response = app.get(icon).await;
        assert_eq!(response.status(), StatusCode::OK, "{page} icon {icon}");
        assert_eq!(response.headers()["content-type"], "image/png");
    }
}

/// The addresses `text` would make a browser fetch from another origin: `src`/`href` attributes,
/// `src:` properties of rendered elements, CSS `url(…)` and `@import`, each with an absolute
/// `http(s)://` or protocol-relative address.
fn remote_fetches(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in [
        "src=\"",
        "href=\"",
        "src:\"",
        "src: \"",
        "url(",
        "url(\"",
        "url('",
        "@import \"",
    ] {
        for rest in text.split(marker).skip(1) {
            let address: String = rest.chars().take(120).collect();
            if address.starts_with("http://")
                || address.starts_with("https://")
                || address.starts_with("//")
            {
                found.push(format!("{marker}{address}"));
            }
        }
    }
    found
}

#[test]
fn remote_fetches_are_told_from_local_ones() {
    assert_eq!(
        remote_fetches(r#"<img src="https://cdn.example/a.svg"> e("img",{src:"//x.example/b"})"#)
            .len(),
        2
    );
    assert!(remote_fetches(r#"<script src="/docs/a.js"></script> url(data:x)"#).is_empty());
}

#[tokio::test]
async fn the_pages_and_their_assets_fetch_nothing_from_another_origin() {
    let app = spawn_app().await;
    let mut checked = Vec::new();
    for page in ["/docs", "/redoc"] {
        let html = app.get(page).await.text().await.unwrap();
        assert!(
            remote_fetches(&html).is_empty(),
            "{page}: {:?}",
            remote_fetches(&html)
        );
        let assets = html
            .split("src=\"")
            .skip(1)
            .chain(html.split("href=\"").skip(1))
            .filter_map(|rest| rest.split('"').next())
            .filter(|url| url.ends_with(".js") || url.ends_with(".css"));
        for url in assets {
            let text = app.get(url).await.text().await.unwrap();
            // Anchors (`href`) to other sites are links, not fetches; the bundles have some.
            let fetches: Vec<String> = remote_fetches(&text)
                .into_iter()
                .filter(|f| !f.starts_with("href="))
                .collect();
            assert!(fetches.is_empty(), "{url}: {fetches:#?}");
            assert!(!text.contains("cdn."), "{url} names a CDN");
            checked.push(url.to_owned());
        }
    }
    assert!(
        checked.contains(&"/redoc/redoc.standalone.js".to_owned())
            && checked.contains(&"/docs/swagger-ui-bundle.js".to_owned()),
        "{checked:?}"
    );
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
