//! Passes over the generated document for what the handlers' annotations cannot say, each the
//! description of one rule the server follows everywhere:
//!
//! - answers carry headers set by shared layers (the request id on every answer, the rate-limit
//!   headers on every answer of a limited route, `Retry-After` on 429, `WWW-Authenticate` on
//!   401): declared once under `components.headers` and referenced from each response, since
//!   utoipa's response annotations only write headers inline;
//! - every member of every answer body is always sent (no DTO skips a member; `null` is written
//!   for an empty optional one), so each is `required`, nullable or not; utoipa has no
//!   container-level way to say so;
//! - an optional request body (annotated `Option<T>`) is described as `T` with
//!   `required: false` rather than as `oneOf [T, null]`;
//! - examples: one per request body and per 2xx answer, declared once under
//!   `components.examples` (from [`super::examples`]) and referenced from every media type whose
//!   schema they illustrate;
//! - the document names its server (relative, so it works behind any host and in the docs pages).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Required};

/// The header every answer carries.
pub const REQUEST_ID: &str = "X-Request-ID";
/// Headers every answer of a rate-limited route carries while the limiter works (it lets
/// requests through without them when Redis fails).
pub const RATE_LIMIT_HEADERS: [&str; 5] = [
    "RateLimit",
    "RateLimit-Policy",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
];
/// Header of every 429.
pub const RETRY_AFTER: &str = "Retry-After";
/// Header of every 401.
pub const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
/// Header of a replayed booking.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
/// Header of a stale environment answer.
pub const WARNING: &str = "Warning";

/// Headers that only some operations' answers carry: `(operation, status, header)`.
const OPERATION_HEADERS: [(&str, &str, &str); 2] = [
    ("create_appointment", "201", IDEMPOTENT_REPLAYED),
    ("environment_conditions", "200", WARNING),
];

/// Runs every pass; paths are still written under `/api/v1`.
pub(super) fn refine(doc: &mut OpenApi) {
    doc.servers = Some(vec![
        ServerBuilder::new()
            .url("/")
            .description(Some(
                "The server that serves this document (every path is absolute from its root)",
            ))
            .build(),
    ]);
    declare_headers(doc);
    optional_bodies(doc);
    require_answer_members(doc);
    add_examples(doc);
}

/// Every operation under `item` (the methods the API uses).
pub fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn header(schema: Schema, description: &str, example: Value, required: bool) -> Header {
    let mut header = HeaderBuilder::new()
        .schema(Some(schema))
        .description(Some(description))
        .example(Some(example))
        .build();
    if required {
        // utoipa's `Header` has no `required` field; its flattened extension map writes the
        // member as OpenAPI defines it for headers.
        let mut extensions = Extensions::default();
        extensions.insert("required".to_owned(), Value::Bool(true));
        header.extensions = Some(extensions);
    }
    header
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
}

/// The reusable response headers.
fn header_components() -> Vec<(&'static str, Header)> {
    vec![
        (
            REQUEST_ID,
            header(
                string().min_length(Some(1)).max_length(Some(128)).into(),
                "Id of this request, also in error bodies (`request_id`) and the server's logs: \
                 the caller's own `X-Request-ID` when it is 1–128 characters of \
                 `A-Z a-z 0-9 . _ : -`, else a new UUID.",
                Value::from("3f6c2b1e-8d4a-4c3b-9a57-2e1f0d6b7c11"),
                true,
            ),
        ),
        (
            "RateLimit",
            header(
                string().into(),
                "Remaining requests `r` and seconds `t` until the window of the named policy \
                 resets (IETF RateLimit header fields).",
                Value::from("\"default\";r=99;t=42"),
                false,
            ),
        ),
        (
            "RateLimit-Policy",
            header(
                string().into(),
                "The route's policy: quota `q` requests per window of `w` seconds, per client \
                 IP.",
                Value::from("\"default\";q=100;w=60"),
                false,
            ),
        ),
        (
            "X-RateLimit-Limit",
            header(
                integer().into(),
                "Requests allowed per minute by the route's policy, per client IP.",
                Value::from(100),
                false,
            ),
        ),
        (
            "X-RateLimit-Remaining",
            header(
                integer().into(),
                "Requests left in the current minute.",
                Value::from(99),
                false,
            ),
        ),
        (
            "X-RateLimit-Reset",
            header(
                integer().into(),
                "Unix time (seconds) at which the current window ends.",
                Value::from(1_767_225_660),
                false,
            ),
        ),
        (
            RETRY_AFTER,
            header(
                integer().minimum(Some(1)).into(),
                "Seconds to wait before the next request is accepted.",
                Value::from(42),
                true,
            ),
        ),
        (
            WWW_AUTHENTICATE,
            header(
                string().enum_values(Some(["Bearer"])).into(),
                "The scheme to authenticate with.",
                Value::from("Bearer"),
                false,
            ),
        ),
        (
            IDEMPOTENT_REPLAYED,
            header(
                string().enum_values(Some(["true"])).into(),
                "Present when this answer replays the first answer to the same `Idempotency-Key` \
                 and body (no new appointment was booked).",
                Value::from("true"),
                false,
            ),
        ),
        (
            WARNING,
            header(
                string()
                    .enum_values(Some([crate::http::environment::STALE_WARNING]))
                    .into(),
                "Present when the provider failed and cached values up to 2 h old are served \
                 (`stale: true` in the body).",
                Value::from(crate::http::environment::STALE_WARNING),
                false,
            ),
        ),
    ]
}

fn header_ref(name: &str) -> RefOr<Header> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{name}")))
}

/// Declares the reusable headers and references them from the answers that carry them.
fn declare_headers(doc: &mut OpenApi) {
    // Which operations are limited is declared where the routes are registered.
    let policies = crate::http::api_routes("/api/v1").policies();
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, header) in header_components() {
        components.headers.insert(name.to_owned(), RefOr::T(header));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let routed = crate::http::routing::routed_path(path);
        let limited = policies.get(routed).is_some_and(Option::is_some);
        for operation in operations_mut(item) {
            let id = operation.operation_id.clone().unwrap_or_default();
            for (status, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                // Annotations may have written a header inline; the shared declaration wins.
                let mut names = vec![REQUEST_ID];
                if limited {
                    names.extend(RATE_LIMIT_HEADERS);
                }
                match status.as_str() {
                    "401" => names.push(WWW_AUTHENTICATE),
                    "429" => names.push(RETRY_AFTER),
                    _ => {}
                }
                names.extend(
                    OPERATION_HEADERS
                        .iter()
                        .filter(|(op, at, _)| *op == id && at == status)
                        .map(|(_, _, name)| *name),
                );
                for name in names {
                    response.headers.insert(name.to_owned(), header_ref(name));
                }
            }
        }
    }
}

/// An optional body (`Option<T>` in the annotation, read by the server as `{}` when empty or
/// `null`): `T`, with `required: false`.
fn optional_bodies(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
                continue;
            };
            if body.required == Some(Required::True) {
                continue;
            }
            body.required = Some(Required::False);
            if body.description.is_none() {
                body.description =
                    Some("Optional: an empty body (or `null`) is read as `{}`.".to_owned());
            }
            for content in body.content.values_mut() {
                let RefOr::T(content) = content else { continue };
                if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                    let mut not_null = one_of.items.iter().filter(|item| !is_null(item));
                    if let (Some(only), None) = (not_null.next(), not_null.next()) {
                        content.schema = Some(only.clone());
                    }
                }
            }
        }
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(object))
        if object.schema_type == SchemaType::Type(Type::Null))
}

/// Component names referenced (directly or through other components) by the request bodies, or
/// by the 2xx answers, of every operation.
fn reachable(doc: &OpenApi, answers: bool) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending: Vec<String> = Vec::new();
    for item in doc.paths.paths.values() {
        let operations = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
        for operation in operations.into_iter().flatten() {
            if answers {
                for (status, response) in &operation.responses.responses {
                    if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                        for content in response.content.values() {
                            collect_refs(
                                &serde_json::to_value(content).unwrap_or_default(),
                                &mut pending,
                            );
                        }
                    }
                }
            } else if let Some(body) = &operation.request_body {
                collect_refs(
                    &serde_json::to_value(body).unwrap_or_default(),
                    &mut pending,
                );
            }
        }
    }
    let schemas = doc
        .components
        .as_ref()
        .map(|c| c.schemas.clone())
        .unwrap_or_default();
    while let Some(name) = pending.pop() {
        if found.insert(name.clone())
            && let Some(schema) = schemas.get(&name)
        {
            collect_refs(
                &serde_json::to_value(schema).unwrap_or_default(),
                &mut pending,
            );
        }
    }
    found
}

/// Every `#/components/schemas/…` reference in `value`.
fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                into.push(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
    }
}

/// Marks every member of every schema an answer uses as required (nullable members stay
/// nullable). Schemas that request bodies also use are left alone: a member a client may omit
/// is not required there.
fn require_answer_members(doc: &mut OpenApi) {
    let answers = reachable(doc, true);
    let requests = reachable(doc, false);
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for name in answers.difference(&requests) {
        if let Some(RefOr::T(schema)) = components.schemas.get_mut(name) {
            require_all(schema);
        }
    }
}

fn require_all(schema: &mut Schema) {
    match schema {
        Schema::Object(object) => {
            object.required = object.properties.keys().cloned().collect();
            for property in object.properties.values_mut() {
                if let RefOr::T(property) = property {
                    require_all(property);
                }
            }
        }
        Schema::AllOf(all_of) => {
            for item in &mut all_of.items {
                if let RefOr::T(item) = item {
                    require_all(item);
                }
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(items) = items.as_mut()
            {
                require_all(items);
            }
        }
        _ => {}
    }
}

/// The schema of `content` as `(component name, is an array of it)`.
fn illustrated(content: &Content) -> Option<(String, bool)> {
    let name = |r: &Ref| {
        r.ref_location
            .strip_prefix("#/components/schemas/")
            .map(str::to_owned)
    };
    match content.schema.as_ref()? {
        RefOr::Ref(r) => Some((name(r)?, false)),
        RefOr::T(Schema::Array(array)) => match &array.items {
            ArrayItems::RefOrSchema(items) => match items.as_ref() {
                RefOr::Ref(r) => Some((name(r)?, true)),
                RefOr::T(_) => None,
            },
            ArrayItems::False => None,
        },
        RefOr::T(_) => None,
    }
}

/// Declares the examples of [`super::examples`] and references one from every request body and
/// 2xx answer whose schema it illustrates (a list example for a list answer), unless the
/// annotation gave its own.
fn add_examples(doc: &mut OpenApi) {
    let registry: BTreeMap<&str, Value> = super::examples::by_schema().into_iter().collect();
    let mut used: BTreeMap<String, Value> = BTreeMap::new();
    let mut attach = |content: &mut Content| {
        if content.example.is_some() || !content.examples.is_empty() {
            return;
        }
        let Some((schema, list)) = illustrated(content) else {
            return;
        };
        let Some(value) = registry.get(schema.as_str()) else {
            return;
        };
        let (key, value) = if list {
            (format!("{schema}List"), Value::Array(vec![value.clone()]))
        } else {
            (schema, value.clone())
        };
        content.examples.insert(
            key.clone(),
            RefOr::Ref(Ref::new(format!("#/components/examples/{key}"))),
        );
        used.insert(key, value);
    };
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
                body.content.values_mut().for_each(|c| {
                    if let RefOr::T(c) = c {
                        attach(c);
                    }
                });
            }
            for (status, response) in operation.responses.responses.iter_mut() {
                if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                    response.content.values_mut().for_each(|c| {
                        if let RefOr::T(c) = c {
                            attach(c);
                        }
                    });
                }
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (key, value) in used {
        components.examples.insert(
            key,
            RefOr::T(ExampleBuilder::new().value(Some(value)).build()),
        );
    }
}
