//! What a client generator needs from `/openapi.json`, checked on the whole document rather than
//! operation by operation: closed sets as named enums, security declared on every operation
//! (and true of the server), the headers every answer carries, every member of an answer
//! required, optional headers and bodies that are not nullable, complete error bodies, and an
//! example for every request body and 2xx answer that fits its schema. The last test sends the
//! request examples to the server and checks its real answers against the document.

use std::collections::BTreeSet;

use medico24_testkit::{TestApp, spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::support::{call, login, login_admin, mount_certs, status_json};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Rate limits no test here reaches.
fn unlimited(vars: &mut std::collections::HashMap<String, String>) {
    for name in [
        "RATE_LIMIT_PER_MINUTE",
        "RATE_LIMIT_AUTH_PER_MINUTE",
        "RATE_LIMIT_ADMIN_SEND_PER_MINUTE",
    ] {
        vars.insert(name.into(), "100000".into());
    }
}

async fn document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// `(method, path, operation)` of every operation.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((method.to_owned(), path.clone(), operation));
            }
        }
    }
    found
}

/// The component a local `$ref` names.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let mut target = doc;
            for part in reference.trim_start_matches("#/").split('/') {
                target = &target[part];
            }
            assert!(!target.is_null(), "dangling reference {reference}");
            target
        }
        None => value,
    }
}

/// Every value under `value` with its JSON pointer.
fn walk<'a>(value: &'a Value, at: String, visit: &mut impl FnMut(&str, &'a Value)) {
    visit(&at, value);
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                walk(child, format!("{at}/{key}"), visit);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{at}/{i}"), visit);
            }
        }
        _ => {}
    }
}

/// Whether `pattern` is an anchored alternation of literal words (`^(a|b|c)$`): a closed set
/// written as a regular expression.
fn is_literal_alternation(pattern: &str) -> bool {
    let Some(inner) = pattern
        .strip_prefix("^(")
        .and_then(|p| p.strip_suffix(")$"))
    else {
        return false;
    };
    inner.contains('|')
        && inner
            .split('|')
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

#[test]
fn the_literal_alternation_detector_tells_sets_from_shapes() {
    assert!(is_literal_alternation("^(android|ios|web)$"));
    assert!(!is_literal_alternation("^([a-z0-9]+(-[a-z0-9]+)*)?$"));
    assert!(!is_literal_alternation(r"^\d{2}:\d{2}:\d{2}$"));
}

#[tokio::test]
async fn closed_sets_are_named_enums() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut problems = Vec::new();
    walk(&doc, String::new(), &mut |at, value| {
        if let Some(pattern) = value.get("pattern").and_then(Value::as_str)
            && is_literal_alternation(pattern)
        {
            problems.push(format!(
                "{at}: pattern {pattern} is a closed set; use an enum"
            ));
        }
        // An enum of several values is a named component, so generators give it a type name.
        let several = value
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|values| values.len() > 1);
        let named = at
            .strip_prefix("/components/schemas/")
            .is_some_and(|rest| !rest.contains('/'));
        if several && !named {
            problems.push(format!(
                "{at}: an inline enum; name it under components/schemas"
            ));
        }
    });
    assert!(problems.is_empty(), "{problems:#?}");
    let schemas = &doc["components"]["schemas"];
    for (set, values) in [
        (
            "AppointmentStatus",
            json!([
                "scheduled",
                "confirmed",
                "rescheduled",
                "cancelled",
                "completed",
                "no_show"
            ]),
        ),
        ("Role", json!(["patient", "doctor", "pharmacy", "admin"])),
        ("Platform", json!(["android", "ios", "web"])),
    ] {
        assert_eq!(schemas[set]["enum"], values, "{set}");
        assert_eq!(schemas[set]["type"], "string", "{set}");
    }
    // The sets are used where the values travel.
    let status = &schemas["AppointmentResponse"]["properties"]["status"];
    assert_eq!(status["$ref"], "#/components/schemas/AppointmentStatus");
    let filter = operations(&doc)
        .into_iter()
        .find(|(_, _, op)| op["operationId"] == "list_appointments")
        .unwrap()
        .2["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "status")
        .unwrap()
        .clone();
    assert_eq!(
        filter["schema"]["$ref"],
        "#/components/schemas/AppointmentStatus"
    );
}

/// A value for a parameter of `schema` that passes its bounds.
fn sample(schema: &Value) -> String {
    let lower = schema["minimum"].as_f64();
    match schema["type"].as_str() {
        Some("integer") => lower.map_or(1, |m| m as i64).max(1).to_string(),
        Some("number") => lower.map_or(1.0, |m| (m + 1.0).max(1.0)).to_string(),
        Some("boolean") => "true".to_owned(),
        _ if schema["format"] == "uuid" => "5b0f7d2c-4f1e-4a8b-9c3d-2e7a1f6b8d90".to_owned(),
        _ => "x".to_owned(),
    }
}

#[tokio::test]
async fn every_operation_declares_its_security_and_the_server_agrees() {
    let app = spawn_app_with(unlimited).await;
    let doc = document(&app).await;
    let mut checked = 0;
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap();
        let security = operation["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{id} declares no security (public operations: [])"));
        for requirement in security {
            for scheme in requirement.as_object().unwrap().keys() {
                assert!(
                    doc["components"]["securitySchemes"][scheme].is_object(),
                    "{id}: unknown scheme {scheme}"
                );
            }
        }
        // Without credentials: a public operation never answers 401, a bearer-only one always
        // does (authentication comes before reading parameters and bodies).
        let bearer_only = security.len() == 1 && security[0].get("bearerAuth").is_some();
        if !(security.is_empty() || bearer_only) {
            continue;
        }
        let mut url = path.clone();
        let mut query = Vec::new();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let parameter = resolve(&doc, parameter);
            let name = parameter["name"].as_str().unwrap();
            let value = sample(resolve(&doc, &parameter["schema"]));
            match parameter["in"].as_str() {
                Some("path") => url = url.replace(&format!("{{{name}}}"), &value),
                Some("query") if parameter["required"] == true => {
                    query.push(format!("{name}={value}"));
                }
                _ => {}
            }
        }
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let body = operation.get("requestBody").map(|_| json!({}));
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let status = call(&app, method, &url, None, body).await.status();
        if bearer_only {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{id} {url}");
        } else {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{id} {url} is public");
        }
        checked += 1;
    }
    assert!(checked > 60, "only {checked} operations checked");
}

#[tokio::test]
async fn every_answer_declares_the_headers_the_server_adds() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let headers = &doc["components"]["headers"];
    for name in [
        "X-Request-ID",
        "RateLimit",
        "RateLimit-Policy",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Retry-After",
        "WWW-Authenticate",
        "Idempotent-Replayed",
        "Warning",
    ] {
        let header = &headers[name];
        assert!(header["schema"].is_object(), "{name}");
        assert!(header["description"].is_string(), "{name}");
        assert!(!header["example"].is_null(), "{name}");
    }
    assert_eq!(headers["X-Request-ID"]["required"], true);
    assert_eq!(headers["Retry-After"]["required"], true);
    let reference = |name: &str| json!({"$ref": format!("#/components/headers/{name}")});
    let policies = medico24_server::http::api_routes("/api/v1").policies();
    for (_, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap();
        let limited = policies
            .get(&path)
            .unwrap_or_else(|| panic!("{path} is not a registered template"))
            .is_some();
        for (status, response) in operation["responses"].as_object().unwrap() {
            let declared = &response["headers"];
            assert_eq!(
                declared["X-Request-ID"],
                reference("X-Request-ID"),
                "{id} {status}"
            );
            for name in ["RateLimit", "RateLimit-Policy", "X-RateLimit-Remaining"] {
                assert_eq!(declared[name].is_object(), limited, "{id} {status} {name}");
            }
            match status.as_str() {
                "429" => assert_eq!(declared["Retry-After"], reference("Retry-After"), "{id}"),
                "401" => assert!(declared["WWW-Authenticate"].is_object(), "{id}"),
                _ => {}
            }
        }
    }
    let booking = operations(&doc)
        .into_iter()
        .find(|(_, _, op)| op["operationId"] == "create_appointment")
        .unwrap()
        .2;
    assert_eq!(
        booking["responses"]["201"]["headers"]["Idempotent-Replayed"],
        reference("Idempotent-Replayed")
    );
    // And the server sends what is declared as always there.
    let answer = app.get("/api/v1/appointments/not-an-id").await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(answer.headers().contains_key("x-request-id"));
    assert_eq!(answer.headers()["www-authenticate"], "Bearer");
    assert!(answer.headers().contains_key("ratelimit-policy"));
}

/// Component names the 2xx answers (or the request bodies) use, directly or through others.
fn reachable(doc: &Value, answers: bool) -> BTreeSet<String> {
    let mut pending = Vec::new();
    for (_, _, operation) in operations(doc) {
        let roots: Vec<&Value> = if answers {
            operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(status, _)| status.starts_with('2'))
                .map(|(_, r)| &r["content"])
                .collect()
        } else {
            vec![&operation["requestBody"]]
        };
        for root in roots {
            walk(root, String::new(), &mut |_, v| {
                if let Some(r) = v.get("$ref").and_then(Value::as_str) {
                    pending.push(r.to_owned());
                }
            });
        }
    }
    let mut found = BTreeSet::new();
    while let Some(reference) = pending.pop() {
        let Some(name) = reference.strip_prefix("#/components/schemas/") else {
            continue;
        };
        if found.insert(name.to_owned()) {
            walk(
                &doc["components"]["schemas"][name],
                String::new(),
                &mut |_, v| {
                    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
                        pending.push(r.to_owned());
                    }
                },
            );
        }
    }
    found
}

#[tokio::test]
async fn every_member_of_an_answer_is_required_and_nullable_ones_stay_nullable() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let answers = reachable(&doc, true);
    let requests = reachable(&doc, false);
    // An object schema used both ways would need members a client may omit: none is.
    let both: Vec<&String> = answers
        .intersection(&requests)
        .filter(|name| {
            let schema = &doc["components"]["schemas"][name.as_str()];
            schema.get("properties").is_some() || schema.get("allOf").is_some()
        })
        .collect();
    assert!(both.is_empty(), "object schemas used both ways: {both:?}");
    let mut problems = Vec::new();
    for name in &answers {
        walk(
            &doc["components"]["schemas"][name],
            name.clone(),
            &mut |at, v| {
                if let Some(properties) = v.get("properties").and_then(Value::as_object) {
                    let required: BTreeSet<&str> = v["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    for property in properties.keys() {
                        if !required.contains(property.as_str()) {
                            problems.push(format!("{at}.{property} is not required"));
                        }
                    }
                }
            },
        );
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let appointment = &doc["components"]["schemas"]["AppointmentResponse"];
    assert_eq!(
        appointment["properties"]["clinic_name"]["type"],
        json!(["string", "null"])
    );
    assert!(
        appointment["required"]
            .as_array()
            .unwrap()
            .contains(&json!("clinic_name"))
    );
}

#[tokio::test]
async fn optional_headers_and_bodies_are_absent_rather_than_null() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let nullable = |schema: &Value| {
        schema["type"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("null")))
            || schema["oneOf"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["type"] == "null"))
    };
    let mut optional_bodies = BTreeSet::new();
    for (_, _, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] != "query" {
                assert!(!nullable(&parameter["schema"]), "{id}: {parameter}");
            }
        }
        if let Some(body) = operation.get("requestBody") {
            assert!(
                body["required"].is_boolean(),
                "{id}: say whether the body is required"
            );
            for media in body["content"].as_object().unwrap().values() {
                assert!(!nullable(&media["schema"]), "{id}: a nullable body");
            }
            if body["required"] == false {
                optional_bodies.insert(id.to_owned());
            }
        }
    }
    assert_eq!(
        optional_bodies,
        BTreeSet::from([
            "end_doctor_association".to_owned(),
            "verify_doctor".to_owned()
        ])
    );
}

#[tokio::test]
async fn error_answers_are_described_completely() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let envelope = json!(["error", "message", "detail", "path", "request_id"]);
    assert_eq!(schemas["Error"]["required"], envelope);
    let codes: BTreeSet<String> = (400..600)
        .filter_map(|status| actix_web::http::StatusCode::from_u16(status).ok())
        .map(|status| {
            let code = medico24_server::http::error::ErrorCode::for_status(status);
            serde_json::to_value(code)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let documented: BTreeSet<String> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, documented);
    let validation = &schemas["ValidationError"];
    assert!(
        validation["required"]
            .as_array()
            .unwrap()
            .contains(&json!("details"))
    );
    assert_eq!(
        validation["properties"]["error"]["enum"],
        json!(["validation_error"])
    );
    let conflict = &schemas["ConflictError"];
    assert_eq!(conflict["required"], envelope);
    assert_eq!(
        conflict["properties"]["allowed_statuses"]["items"]["$ref"],
        "#/components/schemas/AppointmentStatus"
    );
    for (_, _, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap();
        for (status, response) in operation["responses"].as_object().unwrap() {
            if status.starts_with('2') {
                continue;
            }
            let schema = response["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap_or_default();
            let expected = match (status.as_str(), id) {
                ("422", _) => "#/components/schemas/ValidationError",
                ("409", "update_appointment" | "change_appointment_status") => {
                    "#/components/schemas/ConflictError"
                }
                _ => "#/components/schemas/Error",
            };
            assert_eq!(schema, expected, "{id} {status}");
        }
    }
}

#[tokio::test]
async fn the_document_names_a_relative_server() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["servers"][0]["url"], "/");
    for (name, scheme) in doc["components"]["securitySchemes"].as_object().unwrap() {
        assert!(
            scheme["description"].as_str().is_some_and(|d| d.len() > 40),
            "{name} has no description"
        );
    }
    let bearer = doc["components"]["securitySchemes"]["bearerAuth"]["description"]
        .as_str()
        .unwrap();
    assert!(
        bearer.contains("POST /api/v1/auth/firebase/verify"),
        "{bearer}"
    );
}

// ---------------------------------------------------------------------------------------------
// Examples, and a schema check for them and for real answers
// ---------------------------------------------------------------------------------------------

/// Whether `value` is a UUID in its hyphenated form.
fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Whether `value` looks like an RFC 3339 date-time.
fn is_date_time(value: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(value).is_ok()
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// The properties an object schema (or an `allOf` of them) declares, and the required ones.
fn declared(doc: &Value, schema: &Value) -> Option<(Map<String, Value>, BTreeSet<String>)> {
    let schema = resolve(doc, schema);
    if let Some(items) = schema["allOf"].as_array() {
        let mut properties = Map::new();
        let mut required = BTreeSet::new();
        for item in items {
            let (p, r) = declared(doc, item)?;
            properties.extend(p);
            required.extend(r);
        }
        return Some((properties, required));
    }
    let properties = schema["properties"].as_object()?.clone();
    let required = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some((properties, required))
}

/// Problems of `value` against `schema`: types, enums, required and undeclared members, string
/// lengths, numeric bounds, and the `uuid`/`date-time` formats.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(choices) = schema["oneOf"].as_array() {
        let fitting = choices
            .iter()
            .filter(|choice| {
                let mut found = Vec::new();
                check(doc, choice, value, at, &mut found);
                found.is_empty()
            })
            .count();
        if fitting != 1 {
            problems.push(format!("{at}: {value} fits {fitting} of the oneOf choices"));
        }
        return;
    }
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            if declared(doc, part).is_none() {
                check(doc, part, value, at, problems);
            }
        }
    }
    match &schema["type"] {
        Value::String(name) if !type_matches(name, value) => {
            problems.push(format!("{at}: {value} is not {name}"));
            return;
        }
        Value::Array(names)
            if !names
                .iter()
                .any(|n| type_matches(n.as_str().unwrap(), value)) =>
        {
            problems.push(format!("{at}: {value} is none of {names:?}"));
            return;
        }
        _ => {}
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| length < min)
            || schema["maxLength"].as_u64().is_some_and(|max| length > max)
        {
            problems.push(format!("{at}: length of {value} out of bounds"));
        }
        match schema["format"].as_str() {
            Some("uuid") if !is_uuid(text) => problems.push(format!("{at}: {value} is no uuid")),
            Some("date-time") if !is_date_time(text) => {
                problems.push(format!("{at}: {value} is no date-time"));
            }
            _ => {}
        }
    }
    if let Some(number) = value.as_f64()
        && (schema["minimum"].as_f64().is_some_and(|min| number < min)
            || schema["maximum"].as_f64().is_some_and(|max| number > max))
    {
        problems.push(format!("{at}: {value} out of bounds"));
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"), problems);
        }
    }
    if let (Some((properties, required)), Some(object)) = (declared(doc, schema), value.as_object())
    {
        for name in &required {
            if !object.contains_key(name) {
                problems.push(format!("{at}: required `{name}` is missing"));
            }
        }
        for (name, member) in object {
            match properties.get(name) {
                Some(property) => check(doc, property, member, &format!("{at}.{name}"), problems),
                None => problems.push(format!("{at}: `{name}` is not in the schema")),
            }
        }
    }
}

/// The example of a media type (`example`, or the first of `examples`, followed to a component).
fn example_of<'a>(doc: &'a Value, media: &'a Value) -> Option<&'a Value> {
    if let Some(example) = media.get("example") {
        return Some(example);
    }
    let first = media["examples"].as_object()?.values().next()?;
    let example = resolve(doc, first);
    example.get("value")
}

#[tokio::test]
async fn every_request_body_and_2xx_answer_has_an_example_that_fits_its_schema() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut problems = Vec::new();
    let mut seen = 0;
    for (method, path, operation) in operations(&doc) {
        let mut media = Vec::new();
        if let Some(body) = operation.get("requestBody") {
            media.extend(
                body["content"]
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|m| ("body", m)),
            );
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            if status.starts_with('2')
                && let Some(content) = response["content"].as_object()
            {
                media.extend(content.values().map(|m| (status.as_str(), m)));
            }
        }
        for (what, media) in media {
            let at = format!("{method} {path} {what}");
            match example_of(&doc, media) {
                Some(example) => check(&doc, &media["schema"], example, &at, &mut problems),
                None => problems.push(format!("{at}: no example")),
            }
            seen += 1;
        }
    }
    // Schema-level examples (the error envelopes, the closed sets) fit their schemas too.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        for example in schema["examples"].as_array().into_iter().flatten() {
            check(&doc, schema, example, name, &mut problems);
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(seen > 80, "only {seen} media types");
}

#[test]
fn the_schema_check_finds_what_it_must() {
    let doc = json!({"components": {"schemas": {
        "S": {"type": "string", "enum": ["a", "b"]},
        "O": {"type": "object", "required": ["id", "s"], "properties": {
            "id": {"type": "string", "format": "uuid"},
            "s": {"$ref": "#/components/schemas/S"},
            "n": {"type": ["integer", "null"], "minimum": 1}
        }}
    }}});
    let schema = json!({"$ref": "#/components/schemas/O"});
    let mut problems = Vec::new();
    check(
        &doc,
        &schema,
        &json!({"id": "5b0f7d2c-4f1e-4a8b-9c3d-2e7a1f6b8d90", "s": "a", "n": null}),
        "ok",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
    check(
        &doc,
        &schema,
        &json!({"id": "nope", "s": "c", "n": 0, "x": 1}),
        "bad",
        &mut problems,
    );
    check(&doc, &schema, &json!({"s": "a"}), "missing", &mut problems);
    assert_eq!(problems.len(), 5, "{problems:#?}");
}

/// The example the document gives for `operation`'s request body.
fn request_example(doc: &Value, operation: &str) -> Value {
    let (_, _, op) = operations(doc)
        .into_iter()
        .find(|(_, _, op)| op["operationId"] == operation)
        .unwrap_or_else(|| panic!("no operation {operation}"));
    example_of(doc, &op["requestBody"]["content"]["application/json"])
        .unwrap_or_else(|| panic!("{operation} has no request example"))
        .clone()
}

async fn send(
    app: &TestApp,
    method: Method,
    path: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    status_json(call(app, method, &path, token, body).await).await
}

/// Checks a real answer of `operation` against the schema the document gives for its status.
fn fits(doc: &Value, operation: &str, status: StatusCode, body: &Value) {
    let (_, _, op) = operations(doc)
        .into_iter()
        .find(|(_, _, op)| op["operationId"] == operation)
        .unwrap();
    let response = &op["responses"][status.as_str()];
    assert!(
        response.is_object(),
        "{operation} answered an undocumented {status}: {body}"
    );
    let schema = &response["content"]["application/json"]["schema"];
    let mut problems = Vec::new();
    check(doc, schema, body, operation, &mut problems);
    assert!(problems.is_empty(), "{operation} {status}: {problems:#?}");
}

#[tokio::test]
async fn request_examples_are_accepted_and_real_answers_fit_the_document() {
    let app = spawn_app_with(unlimited).await;
    mount_certs(&app).await;
    let doc = document(&app).await;
    let admin = login_admin(&app, "openapi-admin", "openapi-admin@example.com").await;
    let patient = login(&app, "openapi-patient", "openapi-patient@example.com").await;
    let admin_token = Some(admin.access.as_str());
    let patient_token = Some(patient.access.as_str());

    let (status, clinic) = send(
        &app,
        Method::POST,
        "/api/v1/clinics/".into(),
        admin_token,
        Some(request_example(&doc, "create_clinic")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{clinic}");
    fits(&doc, "create_clinic", status, &clinic);
    let clinic_id = clinic["id"].as_str().unwrap().to_owned();

    let (status, doctor) = send(
        &app,
        Method::POST,
        "/api/v1/doctors/".into(),
        admin_token,
        Some(request_example(&doc, "create_doctor")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doctor}");
    fits(&doc, "create_doctor", status, &doctor);
    let doctor_id = doctor["id"].as_str().unwrap().to_owned();

    let mut association = request_example(&doc, "create_doctor_association");
    association["doctor_id"] = json!(doctor_id);
    let (status, body) = send(
        &app,
        Method::POST,
        format!("/api/v1/clinics/{clinic_id}/doctors"),
        admin_token,
        Some(association),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    fits(&doc, "create_doctor_association", status, &body);

    let (status, pharmacy) = send(
        &app,
        Method::POST,
        "/api/v1/pharmacies".into(),
        admin_token,
        Some(request_example(&doc, "create_pharmacy")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{pharmacy}");
    fits(&doc, "create_pharmacy", status, &pharmacy);
    let pharmacy_id = pharmacy["id"].as_str().unwrap().to_owned();

    let mut booking = request_example(&doc, "create_appointment");
    booking["doctor_id"] = json!(doctor_id);
    booking["clinic_id"] = json!(clinic_id);
    let (status, appointment) = send(
        &app,
        Method::POST,
        "/api/v1/appointments/".into(),
        patient_token,
        Some(booking),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{appointment}");
    fits(&doc, "create_appointment", status, &appointment);
    let appointment_id = appointment["id"].as_str().unwrap().to_owned();

    for (operation, method, path, token) in [
        (
            "change_appointment_status",
            Method::PATCH,
            format!("/api/v1/appointments/{appointment_id}/status"),
            patient_token,
        ),
        (
            "update_appointment",
            Method::PUT,
            format!("/api/v1/appointments/{appointment_id}"),
            patient_token,
        ),
        (
            "update_me",
            Method::PATCH,
            "/api/v1/users/me".into(),
            patient_token,
        ),
        (
            "update_pharmacy",
            Method::PATCH,
            format!("/api/v1/pharmacies/{pharmacy_id}"),
            admin_token,
        ),
        (
            "update_clinic",
            Method::PUT,
            format!("/api/v1/clinics/{clinic_id}"),
            admin_token,
        ),
        (
            "update_doctor",
            Method::PUT,
            format!("/api/v1/doctors/{doctor_id}"),
            admin_token,
        ),
        (
            "verify_doctor",
            Method::POST,
            format!("/api/v1/doctors/{doctor_id}/verify"),
            admin_token,
        ),
    ] {
        let (status, body) = send(
            &app,
            method,
            path.clone(),
            token,
            Some(request_example(&doc, operation)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{operation} {path}: {body}");
        fits(&doc, operation, status, &body);
    }
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/v1/notifications/register-token".into(),
        patient_token,
        Some(request_example(&doc, "register_push_token")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    fits(&doc, "register_push_token", status, &body);

    // Reads, filled by the writes above.
    for (operation, path, token) in [
        ("root", "/".to_owned(), None),
        ("health_detailed", "/api/v1/health/detailed".into(), None),
        ("get_me", "/api/v1/users/me".into(), patient_token),
        (
            "list_appointments",
            "/api/v1/appointments/".into(),
            patient_token,
        ),
        ("list_clinics", "/api/v1/clinics/".into(), None),
        (
            "nearby_clinics",
            "/api/v1/clinics/nearby?latitude=19.06&longitude=72.83".into(),
            None,
        ),
        ("get_clinic", format!("/api/v1/clinics/{clinic_id}"), None),
        (
            "list_clinic_doctors",
            format!("/api/v1/clinics/{clinic_id}/doctors"),
            None,
        ),
        (
            "list_doctor_clinics",
            format!("/api/v1/clinics/doctors/{doctor_id}/clinics"),
            None,
        ),
        ("list_doctors", "/api/v1/doctors/".into(), None),
        ("get_doctor", format!("/api/v1/doctors/{doctor_id}"), None),
        ("list_pharmacies", "/api/v1/pharmacies".into(), None),
        (
            "get_pharmacy",
            format!("/api/v1/pharmacies/{pharmacy_id}"),
            None,
        ),
        (
            "list_pharmacy_hours",
            format!("/api/v1/pharmacies/{pharmacy_id}/hours"),
            None,
        ),
        (
            "admin_list_users",
            "/api/v1/admin/users".into(),
            admin_token,
        ),
        (
            "admin_list_audit",
            "/api/v1/admin/audit".into(),
            admin_token,
        ),
        (
            "admin_list_appointments",
            "/api/v1/admin/appointments".into(),
            admin_token,
        ),
        ("admin_metrics", "/api/v1/admin/metrics".into(), admin_token),
        (
            "admin_dashboard_stats",
            "/api/v1/admin/dashboard/stats".into(),
            admin_token,
        ),
        (
            "notification_stats",
            "/api/v1/notifications/stats/summary".into(),
            patient_token,
        ),
    ] {
        let (status, body) = send(&app, Method::GET, path.clone(), token, None).await;
        assert_eq!(status, StatusCode::OK, "{operation} {path}: {body}");
        fits(&doc, operation, status, &body);
    }

    // An illegal transition answers the documented 409 with `allowed_statuses`.
    for next in ["cancelled", "confirmed"] {
        let (status, body) = send(
            &app,
            Method::PATCH,
            format!("/api/v1/appointments/{appointment_id}/status"),
            patient_token,
            Some(json!({"status": next})),
        )
        .await;
        if status == StatusCode::CONFLICT {
            assert!(body["allowed_statuses"].is_array(), "{body}");
            fits(&doc, "change_appointment_status", status, &body);
        } else {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
}
