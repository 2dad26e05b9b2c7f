//! Test support (feature `testing`): an RSA key with a self-signed X.509 certificate standing in
//! for Google's signing keys, Firebase-shaped ID tokens signed with it (or unsigned, for the
//! emulator), a wiremock certificate endpoint that speaks the real protocol, and a service-account
//! JSON key over the same RSA key with wiremock answers of Google's OAuth2 token endpoint and FCM.
#![allow(
    clippy::expect_used,
    reason = "test support: a failed key generation or signature must abort the test loudly"
)]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::matchers;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An RSA-2048 key pair and a self-signed certificate of its public key.
pub struct FirebaseKeys {
    encoding: EncodingKey,
    certificate_pem: String,
    private_key_pem: String,
}

impl std::fmt::Debug for FirebaseKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirebaseKeys").finish_non_exhaustive()
    }
}

impl FirebaseKeys {
    /// The process-wide key, generated on first use (RSA generation is the slow part).
    ///
    /// # Panics
    /// When key or certificate generation fails.
    pub fn shared() -> &'static FirebaseKeys {
        static KEYS: OnceLock<FirebaseKeys> = OnceLock::new();
        KEYS.get_or_init(FirebaseKeys::generate)
    }

    /// A fresh key pair and certificate (for a second, "other" signer).
    ///
    /// # Panics
    /// When key or certificate generation fails.
    pub fn generate() -> FirebaseKeys {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .expect("generate an RSA key pair");
        let params = rcgen::CertificateParams::new(vec!["securetoken.medico24.test".to_owned()])
            .expect("certificate parameters");
        let certificate = params
            .self_signed(&key_pair)
            .expect("self-sign the certificate");
        let private_key_pem = key_pair.serialize_pem();
        let encoding = EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
            .expect("load the private key for signing");
        FirebaseKeys {
            encoding,
            certificate_pem: certificate.pem(),
            private_key_pem,
        }
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as in a service account.
    pub fn private_key_pem(&self) -> &str {
        &self.private_key_pem
    }

    /// A Google service-account JSON key over this RSA key, for `project_id`, whose
    /// `token_uri` is `token_uri` (`private_key_id` [`SERVICE_ACCOUNT_KEY_ID`]).
    pub fn service_account_json(&self, project_id: &str, token_uri: &str) -> String {
        json!({
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": SERVICE_ACCOUNT_KEY_ID,
            "private_key": self.private_key_pem,
            "client_email": SERVICE_ACCOUNT_EMAIL,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        })
        .to_string()
    }

    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The body Google's endpoint returns: `{kid: PEM certificate}`.
    pub fn certs_json(&self, kid: &str) -> Value {
        json!({ kid: self.certificate_pem })
    }

    /// A 200 response with [`Self::certs_json`] and `Cache-Control: public, max-age=N`.
    pub fn certs_response(&self, kid: &str, max_age_secs: u64) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .insert_header(
                "cache-control",
                format!("public, max-age={max_age_secs}, must-revalidate, no-transform"),
            )
            .set_body_json(self.certs_json(kid))
    }

    /// Mounts `GET certs_path` → [`Self::certs_response`] on `server`.
    pub async fn mount_certs(
        &self,
        server: &MockServer,
        certs_path: &str,
        kid: &str,
        max_age_secs: u64,
    ) {
        Mock::given(matchers::method("GET"))
            .and(matchers::path(certs_path))
            .respond_with(self.certs_response(kid, max_age_secs))
            .mount(server)
            .await;
    }

    /// An RS256 token with header `{"alg":"RS256","kid":kid,"typ":"JWT"}`.
    ///
    /// # Panics
    /// When signing fails.
    pub fn sign(&self, claims: Value, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("sign the token")
    }

    /// A token with an arbitrary header JSON, RS256-signed over `header.payload`.
    ///
    /// # Panics
    /// When signing fails.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let signed = format!("{}.{}", segment(header), segment(claims));
        let signature =
            jsonwebtoken::crypto::sign(signed.as_bytes(), &self.encoding, Algorithm::RS256)
                .expect("sign the token");
        format!("{signed}.{signature}")
    }

    /// An unsigned emulator token: header `{"alg":"none","typ":"JWT"}`, empty signature.
    pub fn unsigned(claims: Value) -> String {
        format!(
            "{}.{}.",
            segment(&json!({ "alg": "none", "typ": "JWT" })),
            segment(&claims)
        )
    }

    /// Claims of a valid Firebase ID token for `project_id` issued at `now_unix` (expires an hour
    /// later), with `sub = uid` and the profile claims the login uses.
    pub fn standard_claims(project_id: &str, uid: &str, email: &str, now_unix: i64) -> Value {
        json!({
            "iss": format!("https://securetoken.google.com/{project_id}"),
            "aud": project_id,
            "auth_time": now_unix - 30,
            "user_id": uid,
            "sub": uid,
            "iat": now_unix,
            "exp": now_unix + 3600,
            "email": email,
            "email_verified": true,
            "name": "Asha Rao",
            "picture": "https://lh3.googleusercontent.com/a/photo.jpg",
            "firebase": {
                "identities": { "email": [email] },
                "sign_in_provider": "google.com"
            }
        })
    }
}

/// `private_key_id` of [`FirebaseKeys::service_account_json`].
pub const SERVICE_ACCOUNT_KEY_ID: &str = "sa-key-1";
/// `client_email` of [`FirebaseKeys::service_account_json`].
pub const SERVICE_ACCOUNT_EMAIL: &str = "fcm-sender@medico24-test.iam.gserviceaccount.com";

/// A 200 answer of Google's token endpoint with `access_token` valid for `expires_in` seconds.
pub fn oauth_token_response(access_token: &str, expires_in: i64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access_token,
        "expires_in": expires_in,
        "token_type": "Bearer",
    }))
}

/// FCM's path for sending a message in `project_id`.
pub fn fcm_send_path(project_id: &str) -> String {
    format!("/v1/projects/{project_id}/messages:send")
}

/// A 200 answer of FCM naming message `id` of `project_id`.
pub fn fcm_sent(project_id: &str, id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "name": format!("projects/{project_id}/messages/{id}") }))
}

/// An FCM error answer: HTTP `status`, `error.status` = `status_text`, and when `error_code` is
/// given an `FcmError` detail with it.
pub fn fcm_error(status: u16, status_text: &str, error_code: Option<&str>) -> ResponseTemplate {
    let mut details = Vec::new();
    if let Some(code) = error_code {
        details.push(json!({
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            "errorCode": code,
        }));
    }
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {
            "code": status,
            "message": format!("{status_text} from the fake"),
            "status": status_text,
            "details": details,
        }
    }))
}

/// Base64url (unpadded) of a JSON value.
fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("serialize JSON"))
}
