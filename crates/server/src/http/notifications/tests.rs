//! The notification bodies as the wire sees them: the `data` rules, defaults, the value sets'
//! messages and the ignored `platform`.

use actix_web::test::TestRequest;
use serde_json::{Value, json};
use utoipa::PartialSchema;

use super::*;
use crate::http::input::{enum_message, parse_object, test_body_issues as issues};

fn send(body: Value) -> SendNotification {
    let req = TestRequest::default().to_http_request();
    read_send(&req, body.to_string().as_bytes()).unwrap()
}

const RECIPIENT: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

#[test]
fn a_send_without_type_priority_or_data_gets_the_defaults() {
    let command = send(json!({"user_id": RECIPIENT, "title": "t", "body": "b", "data": null}));
    assert_eq!(command.notification_type, NotificationType::Other);
    assert_eq!(command.priority, Priority::Normal);
    assert!(command.data.is_empty());
    let command = send(json!({
        "user_id": RECIPIENT, "title": "t", "body": "b",
        "data": {"screen": "home"}, "notification_type": "pharmacy_update", "priority": "urgent",
    }));
    assert_eq!(command.notification_type, NotificationType::PharmacyUpdate);
    assert_eq!(command.priority, Priority::Urgent);
    assert_eq!(
        command.data.iter().collect::<Vec<_>>(),
        vec![("screen", "home")]
    );
}

#[test]
fn data_values_and_keys_are_reported_at_their_key() {
    let found = issues::<SendNotificationRequest>(json!({
        "user_id": RECIPIENT, "title": "t", "body": "b",
        "data": {"": "x", "from": 1, "google.sent": "y", "ok": 5, "fine": "z"},
    }));
    assert_eq!(
        found,
        vec![
            (
                json!(["body", "data", ""]),
                "value_error".to_owned(),
                "data keys must not be empty".to_owned()
            ),
            (
                json!(["body", "data", "from"]),
                "string_type".to_owned(),
                "Input should be a valid string".to_owned()
            ),
            (
                json!(["body", "data", "from"]),
                "value_error".to_owned(),
                "data key 'from' is reserved".to_owned()
            ),
            (
                json!(["body", "data", "google.sent"]),
                "value_error".to_owned(),
                "data keys must not start with 'google' or 'gcm'".to_owned()
            ),
            (
                json!(["body", "data", "ok"]),
                "string_type".to_owned(),
                "Input should be a valid string".to_owned()
            ),
        ]
    );
}

#[test]
fn data_over_the_size_limit_or_not_an_object_is_reported_at_the_member() {
    let send = |data: Value| json!({"user_id": RECIPIENT, "title": "t", "body": "b", "data": data});
    let found = issues::<SendNotificationRequest>(send(json!({"k": "x".repeat(5000)})));
    assert_eq!(
        found,
        vec![(
            json!(["body", "data"]),
            "value_error".to_owned(),
            "data must not exceed 4096 bytes when serialized".to_owned()
        )]
    );
    let found = issues::<SendNotificationRequest>(send(json!(["k"])));
    assert_eq!(found[0].0, json!(["body", "data"]));
    assert_eq!(found[0].1, "dict_type");
}

#[test]
fn send_issues_come_in_member_order_with_the_value_sets_in_document_order() {
    let found = issues::<SendNotificationRequest>(json!({
        "user_id": 7, "body": "", "data": "x", "notification_type": "news", "priority": 1,
    }));
    let kinds: Vec<(Value, &str)> = found
        .iter()
        .map(|(loc, kind, _)| (loc.clone(), kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (json!(["body", "user_id"]), "uuid_type"),
            (json!(["body", "title"]), "missing"),
            (json!(["body", "body"]), "string_too_short"),
            (json!(["body", "data"]), "dict_type"),
            (json!(["body", "notification_type"]), "enum"),
            (json!(["body", "priority"]), "enum"),
        ]
    );
    assert_eq!(
        found[4].2,
        enum_message(&[
            "appointment_reminder",
            "appointment_confirmation",
            "appointment_cancelled",
            "prescription_ready",
            "pharmacy_update",
            "system_announcement",
            "other",
        ])
    );
    assert_eq!(
        found[5].2,
        enum_message(&["low", "normal", "high", "urgent"])
    );
}

#[test]
fn the_query_filters_list_the_statuses_in_document_order() {
    assert_eq!(
        crate::openapi::enums::NotificationStatus::values(),
        vec![
            "pending",
            "sent",
            "delivered",
            "partially_delivered",
            "failed",
            "read"
        ]
    );
}

#[test]
fn a_token_deactivation_ignores_any_platform() {
    for platform in [json!("ios"), json!(5), json!({"a": 1}), Value::Null] {
        let Value::Object(body) = json!({"fcm_token": "abc", "platform": platform}) else {
            unreachable!()
        };
        let read = parse_object::<DeactivateTokenRequest>(&body).unwrap();
        assert_eq!(&*read.fcm_token, "abc");
    }
    let found = issues::<DeactivateTokenRequest>(json!({"fcm_token": ""}));
    assert_eq!(found[0].1, "string_too_short");
    let found = issues::<RegisterTokenRequest>(json!({"fcm_token": "abc", "platform": "linux"}));
    assert_eq!(found[0].2, enum_message(&["android", "ios", "web"]));
}

#[test]
fn data_is_documented_as_an_optional_object_of_strings() {
    let schema =
        serde_json::to_value(<SendNotificationRequest as PartialSchema>::schema()).unwrap();
    let data = &schema["properties"]["data"];
    assert_eq!(data["type"], json!(["object", "null"]));
    assert_eq!(data["additionalProperties"], json!({"type": "string"}));
    assert_eq!(data["propertyNames"], json!({"type": "string"}));
    assert_eq!(schema["required"], json!(["user_id", "title", "body"]));
}
