//! `FirebaseIdTokenVerifier`: the `IdTokenVerifier` port over Google's published certificates,
//! with an Auth-emulator mode that does not check signatures.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::Algorithm;
use medico24_identity::{FirebaseIdentity, IdTokenError, IdTokenVerifier};
use medico24_kernel::Clock;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::certs::CertCache;
use crate::outcome::FetchObserver;

/// Google's certificate set for Firebase ID tokens (`FIREBASE_CERTS_URL` default).
pub const DEFAULT_CERTS_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";
/// Tokens longer than this many characters are refused without parsing.
const MAX_TOKEN_CHARS: usize = 16_384;
/// Allowed clock skew on `exp`, `iat` and `auth_time`, in seconds.
const SKEW_SECS: f64 = 10.0;
/// Longest accepted `sub` (the Firebase uid), in characters.
const MAX_SUB_CHARS: usize = 128;
/// Issuer prefix; the project id follows.
const ISSUER_PREFIX: &str = "https://securetoken.google.com/";

/// Settings of [`FirebaseIdTokenVerifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenVerifierConfig {
    /// `FIREBASE_PROJECT_ID` (or the service account's `project_id`); without it every
    /// verification fails with [`IdTokenError::NotConfigured`].
    pub project_id: Option<String>,
    /// Where the `{kid: PEM certificate}` set is fetched from.
    pub certs_url: String,
    /// Auth-emulator mode: signatures are not checked and no certificates are fetched.
    /// The server sets it when `FIREBASE_AUTH_EMULATOR_HOST` is set outside production.
    pub emulator: bool,
    /// Timeout of one certificate fetch (10 s for every outbound call).
    pub request_timeout: Duration,
}

impl IdTokenVerifierConfig {
    /// Production-mode settings with the 10 s request timeout.
    pub fn new(project_id: Option<String>, certs_url: impl Into<String>) -> Self {
        Self {
            project_id,
            certs_url: certs_url.into(),
            emulator: false,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Verifies Firebase ID tokens; cheap to clone (clones share the certificate cache).
pub struct FirebaseIdTokenVerifier<C: Clock> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    /// `(project id, expected issuer)`, when configured.
    project: Option<(String, String)>,
    emulator: bool,
    clock: C,
    certs: CertCache,
}

impl<C: Clock> Clone for FirebaseIdTokenVerifier<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: Clock> std::fmt::Debug for FirebaseIdTokenVerifier<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirebaseIdTokenVerifier")
            .field("project_id", &self.inner.project.as_ref().map(|(id, _)| id))
            .field("emulator", &self.inner.emulator)
            .finish_non_exhaustive()
    }
}

impl<C: Clock> FirebaseIdTokenVerifier<C> {
    /// A verifier fetching certificates with `http` (the process's shared client), reading time
    /// from `clock`, and reporting every certificate fetch to `observer` (the server records
    /// `medico24_external_request_duration_seconds{service="firebase_certs",outcome}`).
    pub fn new(
        config: IdTokenVerifierConfig,
        http: reqwest::Client,
        clock: C,
        observer: Option<FetchObserver>,
    ) -> Self {
        let project = config
            .project_id
            .filter(|id| !id.trim().is_empty())
            .map(|id| {
                let issuer = format!("{ISSUER_PREFIX}{id}");
                (id, issuer)
            });
        Self {
            inner: Arc::new(Inner {
                project,
                emulator: config.emulator,
                clock,
                certs: CertCache::new(config.certs_url, config.request_timeout, http, observer),
            }),
        }
    }

    async fn verify_token(&self, token: &str) -> Result<FirebaseIdentity, IdTokenError> {
        let inner = &*self.inner;
        let Some((project_id, issuer)) = &inner.project else {
            return Err(IdTokenError::NotConfigured);
        };
        if token.len() > MAX_TOKEN_CHARS && token.chars().count() > MAX_TOKEN_CHARS {
            return Err(IdTokenError::Invalid("token too long"));
        }
        let parts = JwsParts::split(token)?;
        let header: JwsHeader =
            decode_segment(parts.header).ok_or(IdTokenError::Invalid("malformed header"))?;

        if inner.emulator {
            // Emulator tokens: unsigned or signed, never checked; an unsigned token carries no
            // signature.
            if header.alg == "none" && !parts.signature.is_empty() {
                return Err(IdTokenError::Invalid("unsigned token with a signature"));
            }
        } else {
            if header.alg != "RS256" {
                return Err(IdTokenError::Invalid("algorithm is not RS256"));
            }
            let kid = header
                .kid
                .filter(|kid| !kid.is_empty())
                .ok_or(IdTokenError::Invalid("missing kid"))?;
            let set = inner.certs.set_for(&kid, &inner.clock).await?;
            let key = set.key(&kid).ok_or(IdTokenError::Invalid("unknown kid"))?;
            let verified = jsonwebtoken::crypto::verify(
                parts.signature,
                parts.signed.as_bytes(),
                key,
                Algorithm::RS256,
            );
            if !matches!(verified, Ok(true)) {
                return Err(IdTokenError::Invalid("bad signature"));
            }
        }

        let claims: Map<String, Value> =
            decode_segment(parts.payload).ok_or(IdTokenError::Invalid("malformed payload"))?;
        check_claims(&claims, project_id, issuer, inner.clock.now())
    }
}

impl<C: Clock> IdTokenVerifier for FirebaseIdTokenVerifier<C> {
    async fn verify(&self, id_token: &str) -> Result<FirebaseIdentity, IdTokenError> {
        let result = self.verify_token(id_token).await;
        if let Err(error) = &result {
            // The reason only: never the token or its claims.
            tracing::debug!(%error, "firebase ID token not accepted");
        }
        result
    }
}

/// The three segments of a JWS compact serialization.
struct JwsParts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`, the signed input.
    signed: &'a str,
}

impl<'a> JwsParts<'a> {
    fn split(token: &'a str) -> Result<Self, IdTokenError> {
        const MALFORMED: IdTokenError = IdTokenError::Invalid("not a JWS compact token");
        let (signed, signature) = token.rsplit_once('.').ok_or(MALFORMED)?;
        let (header, payload) = signed.split_once('.').ok_or(MALFORMED)?;
        if payload.contains('.') {
            return Err(MALFORMED);
        }
        Ok(Self {
            header,
            payload,
            signature,
            signed,
        })
    }
}

#[derive(Deserialize)]
struct JwsHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// A base64url (unpadded) JSON segment.
fn decode_segment<T: serde::de::DeserializeOwned>(segment: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The claim checks at `now` (`aud`, `iss`, `exp`, `iat` and `auth_time` with clock skew, `sub`),
/// then the identity.
fn check_claims(
    claims: &Map<String, Value>,
    project_id: &str,
    issuer: &str,
    now: DateTime<Utc>,
) -> Result<FirebaseIdentity, IdTokenError> {
    // Unix milliseconds fit an f64 exactly; claims may be fractional NumericDates.
    let now = now.timestamp_millis() as f64 / 1000.0;
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    let numeric = |name: &str| claims.get(name).and_then(Value::as_f64);

    if string("aud") != Some(project_id) {
        return Err(IdTokenError::Invalid("aud is not the project id"));
    }
    if string("iss") != Some(issuer) {
        return Err(IdTokenError::Invalid("iss is not the project's issuer"));
    }
    let exp = numeric("exp").ok_or(IdTokenError::Invalid("exp missing or not numeric"))?;
    if now >= exp + SKEW_SECS {
        return Err(IdTokenError::Invalid("expired"));
    }
    let iat = numeric("iat").ok_or(IdTokenError::Invalid("iat missing or not numeric"))?;
    if iat > now + SKEW_SECS {
        return Err(IdTokenError::Invalid("iat in the future"));
    }
    let auth_time =
        numeric("auth_time").ok_or(IdTokenError::Invalid("auth_time missing or not numeric"))?;
    if auth_time > now + SKEW_SECS {
        return Err(IdTokenError::Invalid("auth_time in the future"));
    }
    let sub = string("sub").ok_or(IdTokenError::Invalid("sub missing or not a string"))?;
    if sub.is_empty() || sub.chars().count() > MAX_SUB_CHARS {
        return Err(IdTokenError::Invalid("sub empty or too long"));
    }
    // The uid becomes a stored key: control characters (NUL is refused by PostgreSQL) make
    // the token unusable rather than failing later.
    if sub.chars().any(char::is_control) {
        return Err(IdTokenError::Invalid("sub has control characters"));
    }

    let owned = |name: &str| string(name).map(str::to_owned);
    Ok(FirebaseIdentity {
        uid: sub.to_owned(),
        email: string("email")
            .filter(|email| !email.is_empty())
            .map(str::to_owned),
        email_verified: claims.get("email_verified").and_then(Value::as_bool),
        name: owned("name"),
        picture: owned("picture"),
        given_name: owned("given_name"),
        family_name: owned("family_name"),
    })
}

#[cfg(test)]
mod tests;
