//! Test support (feature `testing`): an RSA key with a self-signed X.509 certificate standing in
//! for Google's signing keys, Firebase-shaped ID tokens signed with it (or unsigned, for the
//! emulator), and a wiremock certificate endpoint that speaks the real protocol.
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
        let encoding = EncodingKey::from_rsa_pem(key_pair.serialize_pem().as_bytes())
            .expect("load the private key for signing");
        FirebaseKeys {
            encoding,
            certificate_pem: certificate.pem(),
        }
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

/// Base64url (unpadded) of a JSON value.
fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("serialize JSON"))
}
