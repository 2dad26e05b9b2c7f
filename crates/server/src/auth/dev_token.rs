//! Firebase ID tokens for the auth emulator mode: unsigned (`alg: none`) tokens with
//! the claims a real Firebase token carries, for local development and demos.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

/// A stable Firebase-like uid for an email (`dev-` + 24 hex characters).
pub fn uid_for_email(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_ascii_lowercase().as_bytes());
    format!("dev-{}", &hex::encode(digest)[..24])
}

/// An unsigned ID token for `project` accepted only in emulator mode.
pub fn emulator_id_token(
    project: &str,
    uid: &str,
    email: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let iat = now.timestamp();
    let mut claims = json!({
        "iss": format!("https://securetoken.google.com/{project}"),
        "aud": project,
        "auth_time": iat,
        "iat": iat,
        "exp": iat + lifetime.num_seconds(),
        "sub": uid,
        "user_id": uid,
        "email": email,
        "email_verified": true,
        "firebase": {"identities": {"email": [email]}, "sign_in_provider": "google.com"},
    });
    if let Some(name) = name {
        claims["name"] = json!(name);
    }
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_stable_per_email() {
        assert_eq!(uid_for_email("A@x.com"), uid_for_email("a@x.com "));
        assert_ne!(uid_for_email("a@x.com"), uid_for_email("b@x.com"));
        assert_eq!(uid_for_email("a@x.com").len(), 28);
    }

    #[test]
    fn tokens_are_unsigned_jws_with_firebase_claims() {
        let token = emulator_id_token(
            "p",
            "u",
            "a@x.com",
            Some("A B"),
            Utc::now(),
            Duration::minutes(5),
        );
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts[2].is_empty());
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "p");
        assert_eq!(claims["iss"], "https://securetoken.google.com/p");
        assert_eq!(claims["name"], "A B");
    }
}
