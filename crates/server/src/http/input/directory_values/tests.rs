use serde_json::{Value, json};

use super::{DoctorEmail, Fee, Ignored, JsonObject, Slug};
use crate::http::input::{FromJson, parse_object, request_body};

request_body! {
    /// Every value type of the directory.
    pub struct Sample {
        /// Fee.
        pub fee: Option<Fee>,
        /// Slug.
        pub slug: Option<Slug>,
        /// Doctor email.
        pub doctor_email: Option<DoctorEmail>,
        /// Free-form.
        pub contacts: Option<JsonObject>,
        /// Accepted, ignored.
        pub notes: Option<Ignored>,
    }
}

fn object(body: Value) -> serde_json::Map<String, Value> {
    let Value::Object(object) = body else {
        panic!("test bodies are objects")
    };
    object
}

fn issues(body: Value) -> Vec<(Value, String, String)> {
    match parse_object::<Sample>(&object(body)) {
        Ok(sample) => panic!("expected issues, read {sample:?}"),
        Err(error) => {
            let body = error.body().render("/", "r");
            body["details"]
                .as_array()
                .unwrap()
                .iter()
                .map(|issue| {
                    (
                        issue["loc"].clone(),
                        issue["type"].as_str().unwrap().to_owned(),
                        issue["msg"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        }
    }
}

fn one_issue(body: Value) -> (String, String) {
    let found = issues(body);
    assert_eq!(found.len(), 1, "{found:?}");
    (found[0].1.clone(), found[0].2.clone())
}

fn read(body: Value) -> Sample {
    parse_object::<Sample>(&object(body)).unwrap()
}

#[test]
fn valid_values_read_as_the_domain_needs_them() {
    let sample = read(json!({
        "fee": 12.5,
        "slug": "",
        "doctor_email": "asha@example.com",
        "contacts": {"phone": "1"},
        "notes": [1, {"any": "thing"}],
    }));
    assert_eq!(sample.fee.map(Fee::get), Some(12.5));
    assert_eq!(sample.slug.and_then(Slug::given), None, "\"\" is no slug");
    assert_eq!(
        sample.doctor_email.map(String::from).as_deref(),
        Some("asha@example.com")
    );
    assert_eq!(
        sample.contacts.map(JsonObject::into_value),
        Some(json!({"phone": "1"}))
    );
    assert!(sample.notes.is_some(), "any value is accepted");
    let slug = read(json!({"slug": "care-1"})).slug.and_then(Slug::given);
    assert_eq!(slug.as_deref(), Some("care-1"));
}

#[test]
fn each_value_reports_its_own_rule_with_the_wire_message() {
    let cases = [
        (
            json!({"fee": "1"}),
            "float_type",
            "Input should be a valid number",
        ),
        (json!({"fee": 12.345}), "decimal_max_places", ""),
        (json!({"fee": -0.01}), "greater_than_equal", ""),
        (json!({"fee": 100_000_000}), "less_than_equal", ""),
        (
            json!({"slug": "Not A Slug"}),
            "string_pattern_mismatch",
            "String should match pattern '^[a-z0-9]+(-[a-z0-9]+)*$'",
        ),
        (json!({"slug": "a".repeat(256)}), "string_too_long", ""),
        (
            json!({"doctor_email": "nope"}),
            "value_error",
            "value is not a valid email address: it must have exactly one @-sign, a local part and a dotted domain, and at most 254 characters",
        ),
        (
            json!({"contacts": []}),
            "dict_type",
            "Input should be a valid dictionary or object to extract fields from",
        ),
    ];
    for (body, kind, message) in cases {
        let (found_kind, found_message) = one_issue(body.clone());
        assert_eq!(found_kind, kind, "{body}");
        if !message.is_empty() {
            assert_eq!(found_message, message, "{body}");
        }
    }
    // The long email's own rule states the length too.
    let long = format!("{}@example.com", "a".repeat(250));
    assert_eq!(one_issue(json!({"doctor_email": long})).0, "value_error");
}

#[test]
fn the_schemas_document_the_rules() {
    let schema = |value: RefOrSchema| serde_json::to_value(value).unwrap();
    type RefOrSchema = utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>;
    let fee = schema(Fee::schema());
    assert_eq!(fee["multipleOf"], json!(0.01));
    assert_eq!(fee["maximum"], json!(99_999_999.99));
    assert_eq!(fee["minimum"], json!(0));
    assert_eq!(
        schema(Slug::schema())["pattern"],
        "^([a-z0-9]+(-[a-z0-9]+)*)?$"
    );
    let email = schema(DoctorEmail::schema());
    assert_eq!(
        (email["format"].as_str(), email["maxLength"].as_u64()),
        (Some("email"), Some(254))
    );
    assert_eq!(schema(JsonObject::schema()), json!({"type": "object"}));
    assert_eq!(schema(Ignored::schema()), json!({"type": "string"}));
}
