//! The document and the readers are one declaration: for every JSON request body and every
//! query parameter the served OpenAPI document describes, each rule it declares (type,
//! required, length, range, item count, enum) is broken once on the live route, and the answer
//! must be a 422 that names that member or parameter. A bound documented but not enforced (or
//! enforced under another name) fails here.

use medico24_testkit::spawn_app_with;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::support::{call, login_admin, mount_certs, status_json};

/// The schema `schema` stands for: a `$ref` resolved, a nullable `oneOf` reduced to its
/// non-null branch.
fn resolve<'d>(document: &'d Value, schema: &'d Value) -> &'d Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return resolve(document, &document["components"]["schemas"][name]);
    }
    if let Some(branches) = schema["oneOf"].as_array()
        && let Some(branch) = branches.iter().find(|b| b["type"] != "null")
    {
        return resolve(document, branch);
    }
    schema
}

fn has_type(schema: &Value, name: &str) -> bool {
    schema["type"] == name
        || schema["type"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t == name))
}

/// One broken rule: what it is called in a failure message, and the member's new value (`None`
/// removes the member).
type Breach = (String, Option<Value>);

/// Every rule the member schema declares, each broken once.
fn breaches(document: &Value, member: &Value, required: bool) -> Vec<Breach> {
    let schema = resolve(document, member);
    let mut out = Vec::new();
    if required {
        out.push(("absent".to_owned(), None));
    }
    // A member documented as any value has no type to break.
    if schema.get("type").is_some() {
        let wrong_type = if has_type(schema, "boolean") {
            json!("not a boolean")
        } else {
            json!(true)
        };
        out.push(("wrong type".to_owned(), Some(wrong_type)));
    }
    if schema["enum"].is_array() {
        out.push(("outside the set".to_owned(), Some(json!("not-a-member"))));
    }
    if let Some(max) = schema["maxLength"].as_u64() {
        out.push((
            format!("longer than {max}"),
            Some(json!("7".repeat(max as usize + 1))),
        ));
    }
    if let Some(min) = schema["minLength"].as_u64().filter(|m| *m > 0) {
        out.push((
            format!("shorter than {min}"),
            Some(json!("7".repeat(min as usize - 1))),
        ));
    }
    if let Some(max) = schema["maximum"].as_f64() {
        out.push((format!("above {max}"), Some(json!(max + 1.0))));
    }
    if let Some(min) = schema["minimum"].as_f64() {
        out.push((format!("below {min}"), Some(json!(min - 1.0))));
    }
    if let Some(min) = schema["exclusiveMinimum"].as_f64() {
        out.push((format!("not above {min}"), Some(json!(min))));
    }
    if let Some(max) = schema["maxItems"].as_u64() {
        let item = if has_type(resolve(document, &schema["items"]), "object") {
            json!({})
        } else {
            json!("7")
        };
        let items = vec![item; max as usize + 1];
        out.push((format!("more than {max} items"), Some(Value::Array(items))));
    }
    out
}

/// The example body of a request body (its first example), or `{}`.
fn example_body(document: &Value, media: &Value) -> Map<String, Value> {
    let reference = media["examples"]
        .as_object()
        .and_then(|examples| examples.values().next())
        .and_then(|example| example["$ref"].as_str())
        .unwrap_or_default();
    let name = reference.trim_start_matches("#/components/examples/");
    document["components"]["examples"][name]["value"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// The path with each parameter filled with a well-formed value.
fn fill(template: &str) -> String {
    let id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    template
        .replace("{day_of_week}", "3")
        .replace("{slug}", "a-clinic")
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                id
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_rule_the_document_declares_for_a_body_member_is_enforced_under_its_name() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "1000000".into());
        vars.insert("RATE_LIMIT_AUTH_PER_MINUTE".into(), "1000000".into());
        vars.insert("RATE_LIMIT_ADMIN_SEND_PER_MINUTE".into(), "1000000".into());
    })
    .await;
    mount_certs(&app).await;
    let admin = login_admin(&app, "uid-schema-admin", "schema-admin@example.com").await;
    let (_, document) =
        status_json(call(&app, Method::GET, "/openapi.json", None, None).await).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut bodies = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let media = &operation["requestBody"]["content"]["application/json"];
            if media.is_null() {
                continue;
            }
            bodies += 1;
            let schema = resolve(&document, &media["schema"]);
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|names| names.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let base = example_body(&document, media);
            let secret = operation["security"]
                .as_array()
                .is_some_and(|schemes| schemes.iter().any(|s| s.get("adminSecret").is_some()));
            for (name, member) in schema["properties"].as_object().unwrap() {
                for (rule, value) in breaches(&document, member, required.contains(&name.as_str()))
                {
                    let mut body = base.clone();
                    match value {
                        Some(value) => body.insert(name.clone(), value),
                        None => body.remove(name),
                    };
                    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                    let mut request = app
                        .client
                        .request(method.clone(), app.url(&fill(template)))
                        .bearer_auth(&admin.access)
                        .json(&Value::Object(body));
                    if secret {
                        request = request.header(
                            "x-admin-secret",
                            app.settings.admin_notification_secret.expose(),
                        );
                    }
                    let (status, answer) = status_json(request.send().await.unwrap()).await;
                    checked += 1;
                    let named = answer["details"].as_array().is_some_and(|details| {
                        details
                            .iter()
                            .any(|issue| issue["loc"] == json!(["body", name]))
                    });
                    if status != StatusCode::UNPROCESSABLE_ENTITY || !named {
                        failures.push(format!(
                            "{method} {template} `{name}` {rule}: {status} {answer}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} breaches not refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every writing route with a JSON body, and several rules per member.
    assert!(bodies >= 20, "only {bodies} request bodies in the document");
    assert!(checked >= 200, "only {checked} breaches tried");
}

/// A value that satisfies a query parameter's schema (for required parameters).
fn valid_param(document: &Value, schema: &Value) -> String {
    let schema = resolve(document, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.as_str().unwrap_or_default().to_owned();
    }
    if has_type(schema, "number") || has_type(schema, "integer") {
        let min = schema["minimum"].as_f64().unwrap_or(0.0);
        let max = schema["maximum"].as_f64().unwrap_or(min + 2.0);
        return format!("{}", ((min + max) / 2.0).round());
    }
    "x".to_owned()
}

/// Every rule a query parameter's schema declares, each broken once (`None` omits it).
fn param_breaches(
    document: &Value,
    schema: &Value,
    required: bool,
) -> Vec<(String, Option<String>)> {
    let schema = resolve(document, schema);
    let mut out = Vec::new();
    if required {
        out.push(("absent".to_owned(), None));
    }
    let typed = has_type(schema, "number")
        || has_type(schema, "integer")
        || has_type(schema, "boolean")
        || schema["format"] == "uuid"
        || schema["format"] == "date-time"
        || schema["enum"].is_array();
    if typed {
        out.push(("malformed".to_owned(), Some("not-a-value".to_owned())));
    }
    if let Some(max) = schema["maxLength"].as_u64() {
        out.push((
            format!("longer than {max}"),
            Some("7".repeat(max as usize + 1)),
        ));
    }
    if let Some(max) = schema["maximum"].as_f64() {
        out.push((format!("above {max}"), Some(format!("{}", max + 1.0))));
    }
    if let Some(min) = schema["minimum"].as_f64() {
        out.push((format!("below {min}"), Some(format!("{}", min - 1.0))));
    }
    if let Some(min) = schema["exclusiveMinimum"].as_f64() {
        out.push((format!("not above {min}"), Some(format!("{min}"))));
    }
    out
}

#[tokio::test]
async fn every_rule_the_document_declares_for_a_query_parameter_is_enforced_under_its_name() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "1000000".into());
        vars.insert("RATE_LIMIT_AUTH_PER_MINUTE".into(), "1000000".into());
        vars.insert("RATE_LIMIT_ENVIRONMENT_PER_MINUTE".into(), "1000000".into());
        // A configured provider, so the environment route reads its query (a refused query
        // never reaches the provider).
        vars.insert(
            "GOOGLE_MAPS_API_KEY".into(),
            "AIza-request-schemas-key".into(),
        );
    })
    .await;
    mount_certs(&app).await;
    let admin = login_admin(&app, "uid-params-admin", "params-admin@example.com").await;
    let (_, document) =
        status_json(call(&app, Method::GET, "/openapi.json", None, None).await).await;
    let mut failures = Vec::new();
    let (mut checked, mut parameters) = (0, 0);
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let query: Vec<&Value> = operation["parameters"]
                .as_array()
                .map(|all| all.iter().filter(|p| p["in"] == "query").collect())
                .unwrap_or_default();
            let base: Vec<(String, String)> = query
                .iter()
                .filter(|p| p["required"] == true)
                .map(|p| {
                    let name = p["name"].as_str().unwrap().to_owned();
                    (name, valid_param(&document, &p["schema"]))
                })
                .collect();
            for parameter in query {
                parameters += 1;
                let name = parameter["name"].as_str().unwrap();
                let required = parameter["required"] == true;
                for (rule, value) in param_breaches(&document, &parameter["schema"], required) {
                    let mut pairs: Vec<(String, String)> =
                        base.iter().filter(|(n, _)| n != name).cloned().collect();
                    if let Some(value) = value {
                        pairs.push((name.to_owned(), value));
                    }
                    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                    let mut url = reqwest::Url::parse(&app.url(&fill(template))).unwrap();
                    url.query_pairs_mut().extend_pairs(&pairs);
                    let response = app
                        .client
                        .request(method.clone(), url)
                        .bearer_auth(&admin.access)
                        .send()
                        .await
                        .unwrap();
                    let (status, answer) = status_json(response).await;
                    checked += 1;
                    let named = answer["details"].as_array().is_some_and(|details| {
                        details
                            .iter()
                            .any(|issue| issue["loc"] == json!(["query", name]))
                    });
                    if status != StatusCode::UNPROCESSABLE_ENTITY || !named {
                        failures.push(format!(
                            "{method} {template} `{name}` {rule}: {status} {answer}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} breaches not refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        parameters >= 60,
        "only {parameters} query parameters in the document"
    );
    assert!(checked >= 120, "only {checked} breaches tried");
}
