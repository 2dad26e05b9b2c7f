//! Tests of `FirebaseIdTokenVerifier` against a wiremock certificate endpoint, a locally
//! generated RSA key with a self-signed certificate, and a fixed clock.

use std::sync::Mutex;

use chrono::TimeZone;
use medico24_kernel::FixedClock;
use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

use super::*;
use crate::outcome::Outcome;
use crate::testing::FirebaseKeys;

const PROJECT: &str = "medico24-test";
const KID: &str = "kid-1";
const OTHER_KID: &str = "kid-2";
const UID: &str = "firebase-uid-1";
const EMAIL: &str = "asha@example.com";
const CERTS_PATH: &str = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

fn keys() -> &'static FirebaseKeys {
    FirebaseKeys::shared()
}

fn certs_mock(kid: &str, max_age_secs: u64) -> Mock {
    Mock::given(matchers::method("GET"))
        .and(matchers::path(CERTS_PATH))
        .respond_with(keys().certs_response(kid, max_age_secs))
}

struct Harness {
    server: MockServer,
    clock: FixedClock,
    verifier: FirebaseIdTokenVerifier<FixedClock>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

async fn harness_with(edit: impl FnOnce(&mut IdTokenVerifierConfig)) -> Harness {
    let server = MockServer::start().await;
    let mut config = IdTokenVerifierConfig::new(
        Some(PROJECT.to_owned()),
        format!("{}{CERTS_PATH}", server.uri()),
    );
    edit(&mut config);
    let clock = FixedClock::at(t0());
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&outcomes);
    let observer: FetchObserver =
        Arc::new(move |outcome, _elapsed| recorded.lock().unwrap().push(outcome));
    let verifier = FirebaseIdTokenVerifier::new(
        config,
        reqwest::Client::new(),
        clock.clone(),
        Some(observer),
    );
    Harness {
        server,
        clock,
        verifier,
        outcomes,
    }
}

impl Harness {
    fn now_unix(&self) -> i64 {
        self.clock.now().timestamp()
    }

    fn claims(&self) -> Value {
        FirebaseKeys::standard_claims(PROJECT, UID, EMAIL, self.now_unix())
    }

    fn claims_with(&self, edit: impl FnOnce(&mut Map<String, Value>, i64)) -> Value {
        let mut claims = self.claims();
        edit(claims.as_object_mut().unwrap(), self.now_unix());
        claims
    }

    fn token(&self) -> String {
        keys().sign(self.claims(), KID)
    }

    fn token_with(&self, edit: impl FnOnce(&mut Map<String, Value>, i64)) -> String {
        keys().sign(self.claims_with(edit), KID)
    }

    async fn verify(&self, token: &str) -> Result<FirebaseIdentity, IdTokenError> {
        self.verifier.verify(token).await
    }

    async fn fetches(&self) -> usize {
        self.server.received_requests().await.unwrap().len()
    }

    fn outcomes(&self) -> Vec<Outcome> {
        self.outcomes.lock().unwrap().clone()
    }

    fn advance(&self, secs: i64) {
        self.clock.advance(chrono::Duration::seconds(secs));
    }
}

fn invalid(reason: &'static str) -> Result<FirebaseIdentity, IdTokenError> {
    Err(IdTokenError::Invalid(reason))
}

// --- Happy path and claim mapping -------------------------------------------------------------

#[tokio::test]
async fn a_valid_token_yields_the_identity() {
    let h = harness().await;
    certs_mock(KID, 3600).expect(1).mount(&h.server).await;

    let token = h.token_with(|c, _| {
        c.insert("given_name".into(), json!("Asha"));
        c.insert("family_name".into(), json!("Rao"));
    });
    let identity = h.verify(&token).await.unwrap();

    assert_eq!(
        identity,
        FirebaseIdentity {
            uid: UID.to_owned(),
            email: Some(EMAIL.to_owned()),
            email_verified: Some(true),
            name: Some("Asha Rao".to_owned()),
            picture: Some("https://lh3.googleusercontent.com/a/photo.jpg".to_owned()),
            given_name: Some("Asha".to_owned()),
            family_name: Some("Rao".to_owned()),
        }
    );
    assert_eq!(h.outcomes(), vec![Outcome::Success]);
    h.server.verify().await;
}

#[tokio::test]
async fn optional_claims_are_none_when_absent_and_an_empty_email_is_none() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;

    let token = h.token_with(|c, _| {
        for claim in ["email_verified", "name", "picture"] {
            c.remove(claim);
        }
        c.insert("email".into(), json!(""));
    });
    let identity = h.verify(&token).await.unwrap();
    assert_eq!(
        identity,
        FirebaseIdentity {
            uid: UID.to_owned(),
            email: None,
            email_verified: None,
            name: None,
            picture: None,
            given_name: None,
            family_name: None,
        }
    );

    let without_email = h.token_with(|c, _| {
        c.remove("email");
    });
    assert_eq!(h.verify(&without_email).await.unwrap().email, None);
}

#[tokio::test]
async fn a_token_just_under_the_length_limit_is_accepted() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    let token = h.token_with(|c, _| {
        c.insert("padding".into(), json!("x".repeat(11_000)));
    });
    assert!(
        token.len() > 14_000 && token.len() <= 16_384,
        "length {}",
        token.len()
    );
    assert!(h.verify(&token).await.is_ok());
}

// --- Header, structure, signature --------------------------------------------------------------

#[tokio::test]
async fn a_token_longer_than_16384_characters_is_invalid_without_a_fetch() {
    let h = harness().await;
    certs_mock(KID, 3600).expect(0).mount(&h.server).await;
    let token = h.token_with(|c, _| {
        c.insert("padding".into(), json!("x".repeat(13_000)));
    });
    assert!(token.len() > 16_384);
    assert_eq!(h.verify(&token).await, invalid("token too long"));
    assert_eq!(
        h.verify(&"a".repeat(16_385)).await,
        invalid("token too long")
    );
}

#[tokio::test]
async fn malformed_tokens_are_invalid() {
    let h = harness().await;
    certs_mock(KID, 3600).expect(0).mount(&h.server).await;
    for token in ["", "abc", "a.b", "a.b.c.d"] {
        assert_eq!(
            h.verify(token).await,
            invalid("not a JWS compact token"),
            "{token:?}"
        );
    }
    assert_eq!(h.verify("!!!.e30.sig").await, invalid("malformed header"));
    let token = h.token();
    let (_, rest) = token.split_once('.').unwrap();
    assert_eq!(
        h.verify(&format!("e30.{rest}")).await,
        invalid("malformed header")
    );
}

#[tokio::test]
async fn alg_none_outside_the_emulator_is_invalid_without_a_fetch() {
    let h = harness().await;
    certs_mock(KID, 3600).expect(0).mount(&h.server).await;
    let token = FirebaseKeys::unsigned(h.claims());
    assert_eq!(h.verify(&token).await, invalid("algorithm is not RS256"));

    let hs256 = keys().sign_with_header(&json!({ "alg": "HS256", "kid": KID }), &h.claims());
    assert_eq!(h.verify(&hs256).await, invalid("algorithm is not RS256"));
}

#[tokio::test]
async fn an_rs256_token_without_kid_is_invalid() {
    let h = harness().await;
    certs_mock(KID, 3600).expect(0).mount(&h.server).await;
    let token = keys().sign_with_header(&json!({ "alg": "RS256", "typ": "JWT" }), &h.claims());
    assert_eq!(h.verify(&token).await, invalid("missing kid"));
    let empty = keys().sign_with_header(&json!({ "alg": "RS256", "kid": "" }), &h.claims());
    assert_eq!(h.verify(&empty).await, invalid("missing kid"));
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature_check() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    let token = h.token();
    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_claims = h.claims_with(|c, _| {
        c.insert("sub".into(), json!("someone-else"));
    });
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_claims).unwrap());
    let forged = format!("{header}.{forged_payload}.{signature}");
    assert_eq!(h.verify(&forged).await, invalid("bad signature"));

    let no_signature = format!("{header}.{forged_payload}.");
    assert_eq!(h.verify(&no_signature).await, invalid("bad signature"));
    let garbage_signature = format!("{header}.{forged_payload}.%%%");
    assert_eq!(h.verify(&garbage_signature).await, invalid("bad signature"));
}

#[tokio::test]
async fn a_token_signed_by_another_key_under_a_known_kid_is_invalid() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    let token = FirebaseKeys::generate().sign(h.claims(), KID);
    assert_eq!(h.verify(&token).await, invalid("bad signature"));
}

// --- Claims --------------------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_audience_is_invalid() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    let token = h.token_with(|c, _| {
        c.insert("aud".into(), json!("another-project"));
    });
    assert_eq!(h.verify(&token).await, invalid("aud is not the project id"));
    let list = h.token_with(|c, _| {
        c.insert("aud".into(), json!([PROJECT]));
    });
    assert_eq!(h.verify(&list).await, invalid("aud is not the project id"));
}

#[tokio::test]
async fn a_wrong_issuer_is_invalid() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    for issuer in [
        json!("https://securetoken.google.com/another-project"),
        json!("https://accounts.google.com"),
        Value::Null,
    ] {
        let token = h.token_with(|c, _| {
            c.insert("iss".into(), issuer.clone());
        });
        assert_eq!(
            h.verify(&token).await,
            invalid("iss is not the project's issuer"),
            "{issuer}"
        );
    }
}

#[tokio::test]
async fn expiry_allows_ten_seconds_of_skew() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    let within_skew = h.token_with(|c, now| {
        c.insert("exp".into(), json!(now - 9));
    });
    assert!(h.verify(&within_skew).await.is_ok());
    let expired = h.token_with(|c, now| {
        c.insert("exp".into(), json!(now - 10));
    });
    assert_eq!(h.verify(&expired).await, invalid("expired"));
    let not_numeric = h.token_with(|c, now| {
        c.insert("exp".into(), json!((now + 3600).to_string()));
    });
    assert_eq!(
        h.verify(&not_numeric).await,
        invalid("exp missing or not numeric")
    );
}

#[tokio::test]
async fn a_token_becomes_expired_as_the_clock_moves() {
    let h = harness().await;
    certs_mock(KID, 1_000_000).mount(&h.server).await;
    let token = h.token();
    assert!(h.verify(&token).await.is_ok());
    h.advance(3600 + 10);
    assert_eq!(h.verify(&token).await, invalid("expired"));
}

#[tokio::test]
async fn iat_in_the_future_beyond_the_skew_is_invalid() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    let within_skew = h.token_with(|c, now| {
        c.insert("iat".into(), json!(now + 10));
    });
    assert!(h.verify(&within_skew).await.is_ok());
    let future = h.token_with(|c, now| {
        c.insert("iat".into(), json!(now + 11));
    });
    assert_eq!(h.verify(&future).await, invalid("iat in the future"));
    let missing = h.token_with(|c, _| {
        c.remove("iat");
    });
    assert_eq!(
        h.verify(&missing).await,
        invalid("iat missing or not numeric")
    );
}

#[tokio::test]
async fn auth_time_must_be_present_numeric_and_not_in_the_future() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    let missing = h.token_with(|c, _| {
        c.remove("auth_time");
    });
    assert_eq!(
        h.verify(&missing).await,
        invalid("auth_time missing or not numeric")
    );
    let future = h.token_with(|c, now| {
        c.insert("auth_time".into(), json!(now + 11));
    });
    assert_eq!(h.verify(&future).await, invalid("auth_time in the future"));
    let fractional = h.token_with(|c, now| {
        c.insert(
            "auth_time".into(),
            json!(format!("{now}.5").parse::<f64>().unwrap() + 9.0),
        );
    });
    assert!(h.verify(&fractional).await.is_ok());
}

#[tokio::test]
async fn sub_must_be_a_non_empty_string_of_at_most_128_characters() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    let longest = h.token_with(|c, _| {
        c.insert("sub".into(), json!("é".repeat(128)));
    });
    assert_eq!(h.verify(&longest).await.unwrap().uid, "é".repeat(128));
    for sub in [json!(""), json!("u".repeat(129)), json!(42), Value::Null] {
        let token = h.token_with(|c, _| {
            c.insert("sub".into(), sub.clone());
        });
        assert!(
            matches!(h.verify(&token).await, Err(IdTokenError::Invalid(reason)) if reason.starts_with("sub")),
            "{sub}"
        );
    }
    let missing = h.token_with(|c, _| {
        c.remove("sub");
    });
    assert_eq!(
        h.verify(&missing).await,
        invalid("sub missing or not a string")
    );
}

// --- Configuration -------------------------------------------------------------------------------

#[tokio::test]
async fn without_a_project_id_every_token_is_not_configured() {
    for emulator in [false, true] {
        for project_id in [None, Some(String::new())] {
            let h = harness_with(|c| {
                c.project_id = project_id.clone();
                c.emulator = emulator;
            })
            .await;
            certs_mock(KID, 3600).expect(0).mount(&h.server).await;
            assert_eq!(h.verify(&h.token()).await, Err(IdTokenError::NotConfigured));
            assert_eq!(
                h.verify(&FirebaseKeys::unsigned(h.claims())).await,
                Err(IdTokenError::NotConfigured)
            );
        }
    }
}

// --- Emulator mode -------------------------------------------------------------------------------

#[tokio::test]
async fn the_emulator_accepts_unsigned_and_signed_tokens_without_fetching_certificates() {
    let h = harness_with(|c| c.emulator = true).await;
    certs_mock(KID, 3600).expect(0).mount(&h.server).await;

    let unsigned = FirebaseKeys::unsigned(h.claims());
    assert_eq!(h.verify(&unsigned).await.unwrap().uid, UID);
    let signed_unknown_kid = FirebaseKeys::generate().sign(h.claims(), "never-published");
    assert_eq!(h.verify(&signed_unknown_kid).await.unwrap().uid, UID);

    assert!(h.outcomes().is_empty());
    h.server.verify().await;
}

#[tokio::test]
async fn the_emulator_still_checks_every_claim() {
    let h = harness_with(|c| c.emulator = true).await;
    certs_mock(KID, 3600).expect(0).mount(&h.server).await;

    let wrong_aud = FirebaseKeys::unsigned(h.claims_with(|c, _| {
        c.insert("aud".into(), json!("another-project"));
    }));
    assert_eq!(
        h.verify(&wrong_aud).await,
        invalid("aud is not the project id")
    );
    let expired = FirebaseKeys::unsigned(h.claims_with(|c, now| {
        c.insert("exp".into(), json!(now - 60));
    }));
    assert_eq!(h.verify(&expired).await, invalid("expired"));
    let no_sub = FirebaseKeys::unsigned(h.claims_with(|c, _| {
        c.remove("sub");
    }));
    assert_eq!(
        h.verify(&no_sub).await,
        invalid("sub missing or not a string")
    );
    let too_long = FirebaseKeys::unsigned(h.claims_with(|c, _| {
        c.insert("padding".into(), json!("x".repeat(13_000)));
    }));
    assert_eq!(h.verify(&too_long).await, invalid("token too long"));
}

#[tokio::test]
async fn the_emulator_refuses_an_unsigned_token_that_carries_a_signature() {
    let h = harness_with(|c| c.emulator = true).await;
    let token = format!("{}AAAA", FirebaseKeys::unsigned(h.claims()));
    assert_eq!(
        h.verify(&token).await,
        invalid("unsigned token with a signature")
    );
}

// --- Certificate fetching and caching ---------------------------------------------------------

#[tokio::test]
async fn an_unreachable_endpoint_with_nothing_cached_is_certificates_unavailable() {
    let h = harness_with(|c| c.certs_url = "http://127.0.0.1:1/certs".to_owned()).await;
    assert_eq!(
        h.verify(&h.token()).await,
        Err(IdTokenError::CertificatesUnavailable)
    );
    assert_eq!(h.outcomes(), vec![Outcome::Error]);
}

#[tokio::test]
async fn unusable_certificate_responses_are_certificates_unavailable() {
    let responses = [
        ResponseTemplate::new(500),
        ResponseTemplate::new(404),
        ResponseTemplate::new(200).set_body_string("not json"),
        ResponseTemplate::new(200).set_body_json(json!(["a", "b"])),
        ResponseTemplate::new(200).set_body_json(json!({ KID: 42 })),
        ResponseTemplate::new(200).set_body_json(json!({})),
        ResponseTemplate::new(200).set_body_json(
            json!({ KID: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }),
        ),
    ];
    for response in responses {
        let h = harness().await;
        Mock::given(matchers::method("GET"))
            .and(matchers::path(CERTS_PATH))
            .respond_with(response)
            .expect(1)
            .mount(&h.server)
            .await;
        assert_eq!(
            h.verify(&h.token()).await,
            Err(IdTokenError::CertificatesUnavailable)
        );
        assert_eq!(h.outcomes(), vec![Outcome::Error]);
        h.server.verify().await;
    }
}

#[tokio::test]
async fn a_slow_endpoint_times_out_as_certificates_unavailable() {
    let h = harness_with(|c| c.request_timeout = Duration::from_millis(200)).await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path(CERTS_PATH))
        .respond_with(
            keys()
                .certs_response(KID, 3600)
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&h.server)
        .await;
    let started = std::time::Instant::now();
    assert_eq!(
        h.verify(&h.token()).await,
        Err(IdTokenError::CertificatesUnavailable)
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(h.outcomes(), vec![Outcome::Timeout]);
}

#[tokio::test]
async fn unparseable_entries_are_skipped_when_another_certificate_is_usable() {
    let h = harness().await;
    let mut body = keys().certs_json(KID);
    body[OTHER_KID] = json!("not a certificate");
    Mock::given(matchers::method("GET"))
        .and(matchers::path(CERTS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&h.server)
        .await;
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(
        h.verify(&keys().sign(h.claims(), OTHER_KID)).await,
        invalid("unknown kid")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_verifications_share_one_fetch() {
    let h = harness().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path(CERTS_PATH))
        .respond_with(
            keys()
                .certs_response(KID, 3600)
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&h.server)
        .await;

    let token = h.token();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let verifier = h.verifier.clone();
        let token = token.clone();
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap().uid, UID);
    }
    assert_eq!(h.outcomes(), vec![Outcome::Success]);
    h.server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifications_share_one_failed_fetch() {
    let h = harness().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path(CERTS_PATH))
        .respond_with(ResponseTemplate::new(503).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&h.server)
        .await;

    let token = h.token();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let verifier = h.verifier.clone();
        let token = token.clone();
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap(), Err(IdTokenError::CertificatesUnavailable));
    }
    h.server.verify().await;
}

#[tokio::test]
async fn the_set_is_cached_for_max_age_then_refetched() {
    let h = harness().await;
    certs_mock(KID, 600).mount(&h.server).await;

    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 1);
    h.advance(599);
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 1);
    h.advance(2);
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 2);
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 2);
    assert_eq!(h.outcomes(), vec![Outcome::Success, Outcome::Success]);
}

#[tokio::test]
async fn without_max_age_the_set_is_cached_for_300_seconds() {
    let h = harness().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path(CERTS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(keys().certs_json(KID)))
        .mount(&h.server)
        .await;

    assert!(h.verify(&h.token()).await.is_ok());
    h.advance(299);
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 1);
    h.advance(1);
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 2);
}

#[tokio::test]
async fn an_unknown_kid_triggers_at_most_one_refetch_per_minute() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    let unknown = |h: &Harness| keys().sign(h.claims(), OTHER_KID);

    // Nothing cached: the unknown kid causes the first fetch, then stays unknown.
    assert_eq!(h.verify(&unknown(&h)).await, invalid("unknown kid"));
    assert_eq!(h.fetches().await, 1);
    h.advance(1);
    assert_eq!(h.verify(&unknown(&h)).await, invalid("unknown kid"));
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 1);

    h.advance(58);
    assert_eq!(h.verify(&unknown(&h)).await, invalid("unknown kid"));
    assert_eq!(h.fetches().await, 1);
    h.advance(1);
    assert_eq!(h.verify(&unknown(&h)).await, invalid("unknown kid"));
    assert_eq!(h.fetches().await, 2);
    for _ in 0..5 {
        h.advance(10);
        assert_eq!(h.verify(&unknown(&h)).await, invalid("unknown kid"));
    }
    assert_eq!(h.fetches().await, 2);
    h.advance(10);
    assert_eq!(h.verify(&unknown(&h)).await, invalid("unknown kid"));
    assert_eq!(h.fetches().await, 3);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_the_unknown_kid_refetch() {
    let h = harness().await;
    certs_mock(KID, 3600).mount(&h.server).await;
    assert!(h.verify(&h.token()).await.is_ok());

    h.server.reset().await;
    let rotated = FirebaseKeys::generate();
    let mut body = keys().certs_json(KID);
    body[OTHER_KID] = json!(rotated.certificate_pem());
    Mock::given(matchers::method("GET"))
        .and(matchers::path(CERTS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&h.server)
        .await;

    h.advance(60);
    assert_eq!(
        h.verify(&rotated.sign(h.claims(), OTHER_KID))
            .await
            .unwrap()
            .uid,
        UID
    );
    assert!(h.verify(&h.token()).await.is_ok());
    h.server.verify().await;
}

#[tokio::test]
async fn an_expired_set_is_kept_when_its_refresh_fails() {
    let h = harness().await;
    certs_mock(KID, 60).mount(&h.server).await;
    assert!(h.verify(&h.token()).await.is_ok());

    h.server.reset().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path(CERTS_PATH))
        .respond_with(ResponseTemplate::new(500))
        .mount(&h.server)
        .await;

    h.advance(120);
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 1);
    assert_eq!(h.outcomes(), vec![Outcome::Success, Outcome::Error]);

    // A failed refresh is not retried for 30 s; the old set keeps serving meanwhile.
    h.advance(29);
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 1);
    h.advance(1);
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 2);
    assert_eq!(
        h.verify(&keys().sign(h.claims(), OTHER_KID)).await,
        invalid("unknown kid")
    );

    // Once the endpoint recovers, the next refresh replaces the set.
    h.server.reset().await;
    certs_mock(KID, 60).mount(&h.server).await;
    h.advance(30);
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.fetches().await, 1);
    assert_eq!(
        h.outcomes(),
        vec![
            Outcome::Success,
            Outcome::Error,
            Outcome::Error,
            Outcome::Success
        ]
    );
}

#[tokio::test]
async fn with_nothing_cached_every_login_retries_the_fetch() {
    let h = harness().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path(CERTS_PATH))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    certs_mock(KID, 3600).mount(&h.server).await;

    assert_eq!(
        h.verify(&h.token()).await,
        Err(IdTokenError::CertificatesUnavailable)
    );
    assert!(h.verify(&h.token()).await.is_ok());
    assert_eq!(h.outcomes(), vec![Outcome::Error, Outcome::Success]);
}
