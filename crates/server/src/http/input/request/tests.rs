use chrono::NaiveTime;
use serde_json::{Value, json};
use utoipa::PartialSchema;

use crate::http::input::{Int, List, Number, Patch, Text, parse_object, test_body_issues};

request_body! {
    /// A nested item.
    pub struct Slot {
        /// Day.
        pub day: Int<1, 7>,
        /// Opens.
        pub opens: NaiveTime,
    }
}

request_body! {
    /// A body with one member of each kind.
    pub struct Sample {
        /// Required text.
        pub name: Text<1, 5>,
        /// Optional number.
        pub score: Option<Number<0, 10>>,
        /// Clearable text.
        pub note: Patch<Text<0, 3>>,
        /// Nested list.
        pub slots: Option<List<Slot, 2>>,
        /// A closed set.
        pub status: Option<medico24_appointments::booking::AppointmentStatus>,
        /// The phone rule.
        pub phone: Option<medico24_kernel::Phone>,
    }
}

fn issues(body: Value) -> Vec<(Value, String, String)> {
    test_body_issues::<Sample>(body)
}

fn read(body: Value) -> Sample {
    let Value::Object(object) = body else {
        panic!("test bodies are objects")
    };
    parse_object::<Sample>(&object).unwrap()
}

#[test]
fn absent_null_and_values_mean_what_the_member_type_says() {
    let minimal = read(json!({"name": "ab"}));
    assert_eq!(&*minimal.name, "ab");
    assert!(minimal.score.is_none() && minimal.slots.is_none());
    assert_eq!(minimal.note, Patch::Keep);
    let cleared = read(json!({"name": "ab", "note": null, "score": null}));
    assert_eq!(cleared.note, Patch::Clear);
    assert!(cleared.score.is_none());
    let full = read(
        json!({"name": "ab", "note": "xyz", "score": 3, "status": "confirmed",
        "slots": [{"day": 7.0, "opens": "09:30"}], "phone": "+91 98765 43210"}),
    );
    assert_eq!(full.note.map(String::from), Patch::Set("xyz".to_owned()));
    assert_eq!(full.score.map(Number::get), Some(3.0));
    let slot = full.slots.as_ref().map(|s| (s[0].day.get(), s[0].opens));
    assert_eq!(slot, Some((7, NaiveTime::from_hms_opt(9, 30, 0).unwrap())));
    assert_eq!(
        full.status,
        Some(medico24_appointments::booking::AppointmentStatus::Confirmed)
    );
    assert_eq!(
        full.phone.map(|p| p.into_string()).as_deref(),
        Some("+91 98765 43210")
    );
}

#[test]
fn every_broken_rule_is_listed_in_declaration_order_at_its_location() {
    let found = issues(json!({
        "score": 11,
        "note": "long",
        "slots": [{"day": 0, "opens": "25:00"}, {"opens": 9}],
        "status": "canceled",
        "phone": "12x",
    }));
    let kinds: Vec<(Value, &str)> = found
        .iter()
        .map(|(l, k, _)| (l.clone(), k.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (json!(["body", "name"]), "missing"),
            (json!(["body", "score"]), "less_than_equal"),
            (json!(["body", "note"]), "string_too_long"),
            (json!(["body", "slots", 0, "day"]), "greater_than_equal"),
            (json!(["body", "slots", 0, "opens"]), "time_parsing"),
            (json!(["body", "slots", 1, "day"]), "missing"),
            (json!(["body", "slots", 1, "opens"]), "time_parsing"),
            (json!(["body", "status"]), "enum"),
            (json!(["body", "phone"]), "value_error"),
        ]
    );
    assert_eq!(found[1].2, "Input should be less than or equal to 10");
    assert!(found[7].2.contains("'scheduled'") && found[7].2.contains("'no_show'"));
    assert_eq!(found[8].2, "phone must be between 7 and 20 characters");
}

#[test]
fn wrong_json_types_are_named_and_null_is_missing_for_a_required_member() {
    let found = issues(json!({"name": null, "score": "3", "slots": {}, "note": 5}));
    let kinds: Vec<&str> = found.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["missing", "float_type", "string_type", "list_type"]
    );
    let too_many = issues(json!({"name": "a", "slots": [{}, {}, {}]}));
    assert_eq!(too_many[0].1, "too_long");
    let not_object = issues(json!({"name": "a", "slots": [5]}));
    assert_eq!(not_object[0].0, json!(["body", "slots", 0]));
    assert_eq!(not_object[0].1, "dict_type");
}

#[test]
fn the_schema_is_the_same_declaration_bounds_required_and_nullability() {
    let schema = serde_json::to_value(Sample::schema()).unwrap();
    assert_eq!(schema["required"], json!(["name"]));
    assert_eq!(
        schema["description"],
        "A body with one member of each kind."
    );
    let name = &schema["properties"]["name"];
    assert_eq!(
        (name["minLength"].as_u64(), name["maxLength"].as_u64()),
        (Some(1), Some(5))
    );
    assert_eq!(name["description"], "Required text.");
    let score = &schema["properties"]["score"];
    assert_eq!(score["type"], json!(["number", "null"]));
    assert_eq!(
        (score["minimum"].as_f64(), score["maximum"].as_f64()),
        (Some(0.0), Some(10.0))
    );
    assert_eq!(
        schema["properties"]["note"]["type"],
        json!(["string", "null"])
    );
    let slots = &schema["properties"]["slots"];
    assert_eq!(slots["maxItems"], 2);
    assert_eq!(slots["items"]["$ref"], "#/components/schemas/Slot");
    let status = serde_json::to_string(&schema["properties"]["status"]).unwrap();
    assert!(
        status.contains("#/components/schemas/AppointmentStatus"),
        "{status}"
    );
    let phone = &schema["properties"]["phone"];
    assert_eq!(
        (phone["minLength"].as_u64(), phone["maxLength"].as_u64()),
        (Some(7), Some(20))
    );
    let mut components = Vec::new();
    <Sample as utoipa::ToSchema>::schemas(&mut components);
    let names: Vec<&str> = components.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["Slot", "AppointmentStatus"]);
}
