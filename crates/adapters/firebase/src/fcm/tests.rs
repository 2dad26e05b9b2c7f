//! Tests of `FcmPushSender` against wiremock stand-ins of Google's token endpoint and FCM, with
//! the shared test RSA key as the service account's, a fixed clock, and a sleeper that records
//! the delays it is asked for instead of waiting.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::TimeZone;
use jsonwebtoken::{DecodingKey, Validation};
use medico24_kernel::FixedClock;
use medico24_notifications::PushData;
use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers};

use super::*;
use crate::oauth::ServiceAccountError;
use crate::testing::{
    FirebaseKeys, SERVICE_ACCOUNT_EMAIL, SERVICE_ACCOUNT_KEY_ID, fcm_error, fcm_send_path,
    fcm_sent, oauth_token_response,
};

const PROJECT: &str = "medico24-test";
const TOKEN_PATH: &str = "/token";

/// Records every requested delay and returns at once.
#[derive(Clone, Default)]
struct RecordingSleeper(Arc<Mutex<Vec<Duration>>>);

impl RecordingSleeper {
    fn delays(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

type Calls = Arc<Mutex<Vec<(&'static str, Outcome)>>>;

struct Harness {
    server: MockServer,
    clock: FixedClock,
    sleeper: RecordingSleeper,
    calls: Calls,
    sender: FcmPushSender<FixedClock, RecordingSleeper>,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

async fn harness_with(edit: impl FnOnce(&mut FcmConfig)) -> Harness {
    let server = MockServer::start().await;
    let account = ServiceAccount::from_json(
        &FirebaseKeys::shared()
            .service_account_json(PROJECT, &format!("{}{TOKEN_PATH}", server.uri())),
    )
    .unwrap();
    let mut config = FcmConfig::new(server.uri());
    edit(&mut config);
    let clock = FixedClock::at(t0());
    let sleeper = RecordingSleeper::default();
    let calls: Calls = Arc::default();
    let recorded = Arc::clone(&calls);
    let observer: CallObserver = Arc::new(move |service, outcome, _| {
        recorded.lock().unwrap().push((service, outcome));
    });
    let sender = FcmPushSender::new(
        account,
        config,
        reqwest::Client::new(),
        clock.clone(),
        sleeper.clone(),
        Some(observer),
    );
    Harness {
        server,
        clock,
        sleeper,
        calls,
        sender,
    }
}

impl Harness {
    async fn mount_token(&self, expect: u64) {
        Mock::given(matchers::method("POST"))
            .and(matchers::path(TOKEN_PATH))
            .respond_with(oauth_token_response("ya29.test-token", 3599))
            .expect(expect)
            .mount(&self.server)
            .await;
    }

    /// Answers the messages to `token` with `responses` in order (the last one repeats).
    async fn mount_fcm(&self, token: &str, responses: Vec<ResponseTemplate>) {
        let count = responses.len();
        for (i, response) in responses.into_iter().enumerate() {
            let mut mock = Mock::given(matchers::method("POST"))
                .and(matchers::path(fcm_send_path(PROJECT)))
                .and(matchers::body_partial_json(
                    json!({"message": {"token": token}}),
                ))
                .respond_with(response);
            if i + 1 < count {
                mock = mock.up_to_n_times(1);
            }
            // Earlier mounts win while they last: mount in order with descending priority.
            mock.with_priority(u8::try_from(i + 1).unwrap())
                .mount(&self.server)
                .await;
        }
    }

    async fn fcm_requests(&self) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == fcm_send_path(PROJECT))
            .collect()
    }
}

fn message(token: &str) -> PushMessage {
    PushMessage {
        token: token.to_owned(),
        title: "Appointment Scheduled".to_owned(),
        body: "Appointment with Dr. Rao on Jan 01, 10:00 AM IST".to_owned(),
        data: PushData::new(BTreeMap::from([
            ("type".to_owned(), "appointment_created".to_owned()),
            ("screen".to_owned(), "/appointments".to_owned()),
        ]))
        .unwrap(),
    }
}

fn within_jitter(delay: Duration, nominal: Duration) -> bool {
    delay >= nominal.mul_f64(0.8) && delay <= nominal.mul_f64(1.2)
}

#[test]
fn the_message_body_is_exactly_the_one_of_the_spec() {
    assert_eq!(
        message_body(&message("device-token-123")),
        json!({"message": {"token": "device-token-123",
            "notification": {"title": "Appointment Scheduled",
                             "body": "Appointment with Dr. Rao on Jan 01, 10:00 AM IST"},
            "data": {"type": "appointment_created", "screen": "/appointments"},
            "android": {"priority": "high",
                        "notification": {"sound": "default", "notification_priority": "PRIORITY_HIGH",
                                         "channel_id": "medico24_notifications"}},
            "apns": {"headers": {"apns-priority": "10"},
                     "payload": {"aps": {"sound": "default", "badge": 1}}}}})
    );
}

#[tokio::test]
async fn one_oauth_token_is_fetched_with_a_signed_grant_and_reused_for_every_send() {
    let h = harness().await;
    h.mount_token(1).await;
    for i in 0..5 {
        h.mount_fcm(&format!("t{i}"), vec![fcm_sent(PROJECT, &format!("m{i}"))])
            .await;
    }
    let messages: Vec<PushMessage> = (0..5).map(|i| message(&format!("t{i}"))).collect();
    let results = h.sender.send_all(&messages).await;
    let later = h.sender.send(&message("t0")).await;
    assert!(matches!(later.outcome, PushOutcome::Sent { .. }));
    for (i, result) in results.iter().enumerate() {
        assert_eq!(
            result.outcome,
            PushOutcome::Sent {
                message_id: format!("projects/{PROJECT}/messages/m{i}")
            }
        );
        assert_eq!(result.retries, 0);
    }

    let requests = h.server.received_requests().await.unwrap();
    let token_request = requests
        .iter()
        .find(|r| r.url.path() == TOKEN_PATH)
        .unwrap();
    assert_eq!(
        token_request.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    let form = String::from_utf8(token_request.body.clone()).unwrap();
    let assertion = form
        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
        .unwrap();
    let header = jsonwebtoken::decode_header(assertion).unwrap();
    assert_eq!(header.kid.as_deref(), Some(SERVICE_ACCOUNT_KEY_ID));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let key =
        DecodingKey::from_rsa_pem(FirebaseKeys::shared().certificate_pem().as_bytes()).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.set_audience(&[format!("{}{TOKEN_PATH}", h.server.uri())]);
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["iss"], SERVICE_ACCOUNT_EMAIL);
    assert_eq!(claims["scope"], FCM_SCOPE);
    assert_eq!(claims["iat"], t0().timestamp());
    assert_eq!(claims["exp"], t0().timestamp() + 3600);

    let sends = h.fcm_requests().await;
    assert_eq!(sends.len(), 6);
    assert!(sends.iter().all(|r| {
        r.headers.get("authorization").unwrap() == "Bearer ya29.test-token"
            && r.headers.get("content-type").unwrap() == "application/json"
    }));
    let body: Value = serde_json::from_slice(&sends[0].body).unwrap();
    let token = body["message"]["token"].as_str().unwrap().to_owned();
    assert_eq!(body, message_body(&message(&token)));
    let oauth_calls = h
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(service, outcome)| *service == "google_oauth" && *outcome == Outcome::Success)
        .count();
    assert_eq!(oauth_calls, 1);
}

#[tokio::test]
async fn the_token_is_fetched_again_300_seconds_before_it_expires() {
    let h = harness().await;
    h.mount_token(2).await;
    h.mount_fcm("t", vec![fcm_sent(PROJECT, "m")]).await;
    h.sender.send(&message("t")).await;
    h.clock.advance(chrono::Duration::seconds(3599 - 301));
    h.sender.send(&message("t")).await;
    h.clock.advance(chrono::Duration::seconds(2));
    h.sender.send(&message("t")).await;
}

#[tokio::test]
async fn rejected_tokens_are_reported_as_invalid_without_retrying() {
    let h = harness().await;
    h.mount_token(1).await;
    h.mount_fcm(
        "gone",
        vec![fcm_error(404, "NOT_FOUND", Some("UNREGISTERED"))],
    )
    .await;
    h.mount_fcm(
        "foreign",
        vec![fcm_error(
            403,
            "PERMISSION_DENIED",
            Some("SENDER_ID_MISMATCH"),
        )],
    )
    .await;
    h.mount_fcm(
        "garbled",
        vec![ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": 400, "message": "The registration token is not a valid FCM registration token",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"},
                {"@type": "type.googleapis.com/google.rpc.BadRequest",
                 "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}]}
            ]}}))],
    )
    .await;
    h.mount_fcm(
        "payload",
        vec![ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": 400, "message": "Invalid JSON payload received.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                         "fieldViolations": [{"field": "message.data[0].value"}]}]}}))],
    )
    .await;
    let results = h
        .sender
        .send_all(&[
            message("gone"),
            message("foreign"),
            message("garbled"),
            message("payload"),
        ])
        .await;
    let outcomes: Vec<PushOutcome> = results.into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            PushOutcome::InvalidToken {
                code: "UNREGISTERED".into()
            },
            PushOutcome::InvalidToken {
                code: "SENDER_ID_MISMATCH".into()
            },
            PushOutcome::InvalidToken {
                code: "INVALID_ARGUMENT".into()
            },
            PushOutcome::Failed {
                code: "INVALID_ARGUMENT".into(),
                reason: "INVALID_ARGUMENT: Invalid JSON payload received.".into()
            },
        ]
    );
    assert_eq!(h.fcm_requests().await.len(), 4, "no retries");
    assert!(h.sleeper.delays().is_empty());
}

#[tokio::test]
async fn unavailable_then_success_is_retried_after_a_jittered_second() {
    let h = harness().await;
    h.mount_token(1).await;
    h.mount_fcm(
        "t",
        vec![
            fcm_error(503, "UNAVAILABLE", Some("UNAVAILABLE")),
            fcm_sent(PROJECT, "m-42"),
        ],
    )
    .await;
    let result = h.sender.send(&message("t")).await;
    assert_eq!(
        result,
        PushResult {
            outcome: PushOutcome::Sent {
                message_id: format!("projects/{PROJECT}/messages/m-42")
            },
            retries: 1
        }
    );
    assert_eq!(h.fcm_requests().await.len(), 2);
    let delays = h.sleeper.delays();
    assert_eq!(delays.len(), 1);
    assert!(
        within_jitter(delays[0], Duration::from_secs(1)),
        "{delays:?}"
    );
}

#[tokio::test]
async fn retryable_failures_back_off_1_2_4_seconds_then_fail() {
    let h = harness().await;
    h.mount_token(1).await;
    h.mount_fcm("t", vec![fcm_error(500, "INTERNAL", Some("INTERNAL"))])
        .await;
    let result = h.sender.send(&message("t")).await;
    assert_eq!(
        result,
        PushResult {
            outcome: PushOutcome::Failed {
                code: "INTERNAL".into(),
                reason: "INTERNAL: INTERNAL from the fake".into()
            },
            retries: 3
        }
    );
    assert_eq!(
        h.fcm_requests().await.len(),
        4,
        "one try and FCM_MAX_RETRIES retries"
    );
    let delays = h.sleeper.delays();
    assert_eq!(delays.len(), 3);
    for (delay, nominal) in delays.iter().zip([1, 2, 4]) {
        assert!(
            within_jitter(*delay, Duration::from_secs(nominal)),
            "{delays:?}"
        );
    }
}

#[tokio::test]
async fn quota_exceeded_waits_for_retry_after_when_it_is_longer() {
    let h = harness().await;
    h.mount_token(1).await;
    h.mount_fcm(
        "t",
        vec![
            fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"))
                .insert_header("retry-after", "7"),
            fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"))
                .insert_header("retry-after", "Sun, 01 Mar 2026 09:00:12 GMT"),
            fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"))
                .insert_header("retry-after", "120"),
            fcm_sent(PROJECT, "m"),
        ],
    )
    .await;
    let result = h.sender.send(&message("t")).await;
    assert!(matches!(result.outcome, PushOutcome::Sent { .. }));
    assert_eq!(result.retries, 3);
    assert_eq!(h.fcm_requests().await.len(), 4);
    assert_eq!(
        h.sleeper.delays(),
        vec![
            Duration::from_secs(7),
            Duration::from_secs(12),
            Duration::from_secs(30)
        ],
        "Retry-After in seconds, as an HTTP date (clock at 09:00:00), capped at 30 s"
    );
}

#[tokio::test]
async fn a_short_retry_after_does_not_shorten_the_backoff() {
    let h = harness_with(|c| c.max_retries = 1).await;
    h.mount_token(1).await;
    h.mount_fcm(
        "t",
        vec![
            fcm_error(503, "UNAVAILABLE", Some("UNAVAILABLE")).insert_header("retry-after", "0"),
            fcm_sent(PROJECT, "m"),
        ],
    )
    .await;
    h.sender.send(&message("t")).await;
    assert!(within_jitter(h.sleeper.delays()[0], Duration::from_secs(1)));
}

#[tokio::test]
async fn delays_scale_with_the_backoff_base() {
    let h = harness_with(|c| c.backoff_base = Duration::from_millis(1)).await;
    h.mount_token(1).await;
    h.mount_fcm(
        "t",
        vec![
            fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"))
                .insert_header("retry-after", "5"),
            fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"))
                .insert_header("retry-after", "3600"),
            fcm_sent(PROJECT, "m"),
        ],
    )
    .await;
    h.sender.send(&message("t")).await;
    assert_eq!(
        h.sleeper.delays(),
        vec![Duration::from_millis(5), Duration::from_millis(30)]
    );
}

#[tokio::test]
async fn a_401_refreshes_the_oauth_token_once_and_retries_at_once() {
    let h = harness().await;
    h.mount_token(2).await;
    h.mount_fcm(
        "t",
        vec![
            fcm_error(401, "UNAUTHENTICATED", None),
            fcm_sent(PROJECT, "m"),
        ],
    )
    .await;
    let result = h.sender.send(&message("t")).await;
    assert!(matches!(result.outcome, PushOutcome::Sent { .. }));
    assert_eq!(result.retries, 0, "the refresh is not a counted retry");
    assert!(h.sleeper.delays().is_empty());

    let h = harness().await;
    h.mount_token(2).await;
    h.mount_fcm("t", vec![fcm_error(401, "UNAUTHENTICATED", None)])
        .await;
    let result = h.sender.send(&message("t")).await;
    assert_eq!(
        result.outcome,
        PushOutcome::Failed {
            code: "UNAUTHENTICATED".into(),
            reason: "UNAUTHENTICATED: UNAUTHENTICATED from the fake".into()
        },
        "a second 401 is final"
    );
    assert_eq!(h.fcm_requests().await.len(), 2);
}

#[tokio::test]
async fn server_errors_without_a_body_are_retried() {
    let h = harness_with(|c| c.max_retries = 1).await;
    h.mount_token(1).await;
    h.mount_fcm("t", vec![ResponseTemplate::new(502)]).await;
    let result = h.sender.send(&message("t")).await;
    assert_eq!(
        result.outcome,
        PushOutcome::Failed {
            code: "HTTP 502".into(),
            reason: "HTTP 502".into()
        }
    );
    assert_eq!(h.fcm_requests().await.len(), 2);
}

#[tokio::test]
async fn a_failing_token_endpoint_fails_sends_as_retryable() {
    let h = harness_with(|c| c.max_retries = 2).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .expect(3)
        .mount(&h.server)
        .await;
    let result = h.sender.send(&message("t")).await;
    let PushOutcome::Failed { code, .. } = &result.outcome else {
        panic!("expected a failure: {result:?}");
    };
    assert_eq!(code, "UNAVAILABLE");
    assert_eq!(result.retries, 2);
    assert!(h.fcm_requests().await.is_empty());
    assert!(
        h.calls
            .lock()
            .unwrap()
            .iter()
            .all(|(service, outcome)| *service == "google_oauth" && *outcome == Outcome::Error)
    );
}

#[tokio::test]
async fn timeouts_and_connection_errors_are_named_and_retried() {
    let h = harness_with(|c| {
        c.max_retries = 1;
        c.request_timeout = Duration::from_millis(200);
    })
    .await;
    h.mount_token(1).await;
    h.mount_fcm(
        "slow",
        vec![fcm_sent(PROJECT, "m").set_delay(Duration::from_secs(5))],
    )
    .await;
    let result = h.sender.send(&message("slow")).await;
    assert_eq!(
        result.outcome,
        PushOutcome::Failed {
            code: "timeout".into(),
            reason: "timeout".into()
        }
    );
    assert!(h.calls.lock().unwrap().contains(&("fcm", Outcome::Timeout)));

    let unreachable = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}")
    };
    let h = harness_with(|c| {
        c.max_retries = 1;
        c.base_url = unreachable;
    })
    .await;
    h.mount_token(1).await;
    let result = h.sender.send(&message("t")).await;
    assert_eq!(
        result.outcome,
        PushOutcome::Failed {
            code: "network error".into(),
            reason: "network error".into()
        }
    );
    assert_eq!(result.retries, 1);
}

#[test]
fn service_accounts_need_every_field_and_a_usable_key() {
    let keys = FirebaseKeys::shared();
    let good: Value =
        serde_json::from_str(&keys.service_account_json(PROJECT, "https://t.example/token"))
            .unwrap();
    let account = ServiceAccount::from_json(&good.to_string()).unwrap();
    assert_eq!(account.project_id, PROJECT);
    assert_eq!(
        account.token_uri.as_deref(),
        Some("https://t.example/token")
    );
    assert!(
        !format!("{account:?}").contains("PRIVATE"),
        "Debug never shows the key"
    );

    for field in [
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
    ] {
        let mut broken = good.clone();
        broken.as_object_mut().unwrap().remove(field);
        assert_eq!(
            ServiceAccount::from_json(&broken.to_string()).err(),
            Some(ServiceAccountError::Missing(field))
        );
    }
    let mut bad_key = good.clone();
    bad_key["private_key"] =
        json!("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n");
    assert_eq!(
        ServiceAccount::from_json(&bad_key.to_string()).err(),
        Some(ServiceAccountError::InvalidKey)
    );
    assert_eq!(
        ServiceAccount::from_json("[]").err(),
        Some(ServiceAccountError::Json)
    );
}

#[test]
fn backoff_is_exponential_jittered_and_capped() {
    let second = Duration::from_secs(1);
    assert_eq!(retry_delay(0, None, second, 1.0), Duration::from_secs(1));
    assert_eq!(
        retry_delay(2, None, second, 1.2),
        Duration::from_secs_f64(4.8)
    );
    assert_eq!(
        retry_delay(1, None, second, 0.8),
        Duration::from_secs_f64(1.6)
    );
    assert_eq!(retry_delay(10, None, second, 1.0), Duration::from_secs(30));
    assert_eq!(
        retry_delay(0, Some(Duration::from_secs(9)), second, 1.0),
        Duration::from_secs(9)
    );
}
