use medico24_pharmacy::{DayOfWeek, HoursInput, Latitude, Longitude};
use serde_json::{Value, json};
use utoipa::PartialSchema;

use super::{ClosingTime, DoctorEmail, Fee, HoursList, OpeningTime, PharmacyEmail, Slug, Timezone};
use crate::http::input::{
    FromJson, Ignored, JsonObject, parse_object, request_body, test_body_issues,
};

request_body! {
    /// One day.
    pub struct Day {
        /// Weekday.
        pub day_of_week: DayOfWeek,
        /// Opens.
        pub open_time: OpeningTime,
        /// Closes.
        pub close_time: ClosingTime,
    }
}

impl From<Day> for HoursInput {
    fn from(day: Day) -> Self {
        Self {
            day_of_week: day.day_of_week,
            open_time: day.open_time.get(),
            close_time: day.close_time.get(),
            is_closed: false,
        }
    }
}

request_body! {
    /// Every value type of the directory and the pharmacies.
    pub struct Sample {
        /// Fee.
        pub fee: Option<Fee>,
        /// Slug.
        pub slug: Option<Slug>,
        /// Doctor email.
        pub doctor_email: Option<DoctorEmail>,
        /// Pharmacy email.
        pub pharmacy_email: Option<PharmacyEmail>,
        /// Zone.
        pub timezone: Option<Timezone>,
        /// Latitude.
        pub latitude: Option<Latitude>,
        /// Longitude.
        pub longitude: Option<Longitude>,
        /// Free-form.
        pub contacts: Option<JsonObject>,
        /// Accepted, ignored.
        pub notes: Option<Ignored>,
        /// Hours.
        pub hours: Option<HoursList<Day>>,
    }
}

fn object(body: Value) -> serde_json::Map<String, Value> {
    let Value::Object(object) = body else {
        panic!("test bodies are objects")
    };
    object
}

fn issues(body: Value) -> Vec<(Value, String, String)> {
    test_body_issues::<Sample>(body)
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
        "pharmacy_email": "shop@example.com",
        "timezone": "America/New_York",
        "latitude": -90,
        "longitude": 180.0,
        "contacts": {"phone": "1"},
        "notes": [1, {"any": "thing"}],
        "hours": [
            {"day_of_week": 3, "open_time": "09:00", "close_time": "21:00"},
            {"day_of_week": 1.0, "open_time": "20:00:00", "close_time": "02:00"},
        ],
    }));
    assert_eq!(sample.fee.map(Fee::get), Some(12.5));
    assert_eq!(sample.slug.and_then(Slug::given), None, "\"\" is no slug");
    assert_eq!(
        sample.doctor_email.map(String::from).as_deref(),
        Some("asha@example.com")
    );
    assert_eq!(
        sample.pharmacy_email.map(String::from).as_deref(),
        Some("shop@example.com")
    );
    assert_eq!(
        sample.timezone.map(|tz| tz.get().name()),
        Some("America/New_York")
    );
    assert_eq!(sample.latitude.map(Latitude::get), Some(-90.0));
    assert_eq!(sample.longitude.map(Longitude::get), Some(180.0));
    assert_eq!(
        sample.contacts.map(JsonObject::into_value),
        Some(json!({"phone": "1"}))
    );
    assert!(sample.notes.is_some(), "any value is accepted");
    let hours = sample.hours.map(HoursList::into_week_hours).unwrap();
    let days: Vec<u8> = hours.iter().map(|h| h.day_of_week.get()).collect();
    assert_eq!(days, vec![3, 1]);
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
            json!({"pharmacy_email": "nope"}),
            "value_error",
            "value is not a valid email address",
        ),
        (
            json!({"pharmacy_email": format!("{}@example.com", "a".repeat(250))}),
            "string_too_long",
            "String should have at most 254 characters",
        ),
        (
            json!({"timezone": "Mars/Olympus"}),
            "value_error",
            "timezone must be an IANA time zone name (e.g. Asia/Kolkata)",
        ),
        (
            json!({"timezone": ""}),
            "string_too_short",
            "String should have at least 1 character",
        ),
        (
            json!({"latitude": -90.5}),
            "greater_than_equal",
            "Input should be greater than or equal to -90",
        ),
        (
            json!({"longitude": 181}),
            "less_than_equal",
            "Input should be less than or equal to 180",
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
fn a_repeated_weekday_is_found_from_the_weekday_alone_and_reported_in_item_order() {
    let found = issues(json!({"hours": [
        {"day_of_week": 1, "open_time": "09:00", "close_time": "25:00"},
        {"day_of_week": 1, "open_time": "09:00", "close_time": "10:00"},
        {"day_of_week": 0, "open_time": "09:00", "close_time": "10:00"},
        {"day_of_week": 1.0, "open_time": "9am", "close_time": "10:00"},
        "monday",
    ]}));
    let kinds: Vec<(Value, &str)> = found
        .iter()
        .map(|(l, k, _)| (l.clone(), k.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (json!(["body", "hours", 0, "close_time"]), "time_parsing"),
            (json!(["body", "hours", 1, "day_of_week"]), "value_error"),
            (
                json!(["body", "hours", 2, "day_of_week"]),
                "greater_than_equal"
            ),
            (json!(["body", "hours", 3, "open_time"]), "time_parsing"),
            (json!(["body", "hours", 3, "day_of_week"]), "value_error"),
            (json!(["body", "hours", 4]), "dict_type"),
        ]
    );
    assert_eq!(found[1].2, "day_of_week 1 is given more than once");
    let eight: Vec<Value> = (1..=8)
        .map(|d| json!({"day_of_week": d, "open_time": "09:00", "close_time": "10:00"}))
        .collect();
    let (kind, message) = one_issue(json!({ "hours": eight }));
    assert_eq!(kind, "too_long");
    assert_eq!(
        message,
        "List should have at most 7 items after validation, not 8"
    );
    assert_eq!(
        one_issue(
            json!({"hours": [{"day_of_week": 8, "open_time": "09:00", "close_time": "10:00"}]})
        )
        .0,
        "less_than_equal"
    );
    assert_eq!(
        one_issue(
            json!({"hours": [{"day_of_week": "1", "open_time": "09:00", "close_time": "10:00"}]})
        )
        .0,
        "int_type"
    );
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
    assert_eq!(schema(OpeningTime::schema())["example"], "09:00");
    assert_eq!(schema(ClosingTime::schema())["example"], "21:00");
    assert_eq!(schema(Timezone::schema())["example"], "Asia/Kolkata");
    assert_eq!(schema(DayOfWeek::schema())["maximum"], json!(7));
    assert_eq!(schema(JsonObject::schema()), json!({"type": "object"}));
    assert_eq!(schema(Ignored::schema()), json!({}));
    let hours = schema(<HoursList<Day> as FromJson>::schema());
    assert_eq!(hours["maxItems"], json!(7));
    assert_eq!(hours["items"]["$ref"], "#/components/schemas/Day");
    let sample = schema(<Sample as PartialSchema>::schema());
    assert_eq!(
        sample["properties"]["latitude"]["minimum"].as_f64(),
        Some(-90.0)
    );
}
