//! JWT adapter: the service's own access and refresh tokens, implementing the identity
//! domain's `TokenSigner` port. Both are HS256 JWS with separate keys (a refresh token signed
//! with the access key is refused, and the other way round), carry a `type` claim naming their
//! kind, and are validated against the injected clock with 10 s leeway.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use medico24_identity::{AccessClaims, InvalidToken, RefreshClaims, TokenSigner};
use medico24_kernel::UserId;
use serde_json::{Value, json};

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: i64 = 10;

/// HS256 signer/validator for both token kinds.
pub struct JwtTokens {
    access_encoding: EncodingKey,
    access_decoding: DecodingKey,
    refresh_encoding: EncodingKey,
    refresh_decoding: DecodingKey,
    access_ttl: Duration,
    refresh_ttl: Duration,
    validation: Validation,
}

impl JwtTokens {
    /// Keys are the UTF-8 bytes of `JWT_SECRET_KEY` and `JWT_REFRESH_SECRET_KEY`.
    pub fn new(
        access_key: &str,
        refresh_key: &str,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Time claims are checked against the injected clock below.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        Self {
            access_encoding: EncodingKey::from_secret(access_key.as_bytes()),
            access_decoding: DecodingKey::from_secret(access_key.as_bytes()),
            refresh_encoding: EncodingKey::from_secret(refresh_key.as_bytes()),
            refresh_decoding: DecodingKey::from_secret(refresh_key.as_bytes()),
            access_ttl,
            refresh_ttl,
            validation,
        }
    }

    fn sign(&self, key: &EncodingKey, claims: &Value) -> String {
        // Encoding an in-memory JSON object with a valid HMAC key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, key).unwrap_or_default()
    }

    fn decode(
        &self,
        token: &str,
        key: &DecodingKey,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Map<String, Value>, InvalidToken> {
        let data = jsonwebtoken::decode::<Value>(token, key, &self.validation)
            .map_err(|_| InvalidToken)?;
        let Value::Object(claims) = data.claims else {
            return Err(InvalidToken);
        };
        let now = now.timestamp();
        let exp = claims.get("exp").and_then(numeric).ok_or(InvalidToken)?;
        if now > exp + LEEWAY_SECONDS {
            return Err(InvalidToken);
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = numeric(nbf).ok_or(InvalidToken)?;
            if now < nbf - LEEWAY_SECONDS {
                return Err(InvalidToken);
            }
        }
        if claims.get("type").and_then(Value::as_str) != Some(kind) {
            return Err(InvalidToken);
        }
        if !claims.get("sub").is_some_and(Value::is_string) {
            return Err(InvalidToken);
        }
        Ok(claims)
    }
}

/// Integer or float seconds (reference tokens may carry either).
fn numeric(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.floor() as i64)
    })
}

fn uuid_claim(
    claims: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<uuid::Uuid, InvalidToken> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or(InvalidToken)
}

impl TokenSigner for JwtTokens {
    fn issue_access(&self, user: UserId, now: DateTime<Utc>) -> String {
        let iat = now.timestamp();
        let claims = json!({
            "sub": user.to_string(),
            "type": "access",
            "iat": iat,
            "exp": iat + self.access_ttl.as_secs() as i64,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        self.sign(&self.access_encoding, &claims)
    }

    fn issue_refresh(
        &self,
        user: UserId,
        sid: uuid::Uuid,
        jti: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> String {
        let iat = now.timestamp();
        let claims = json!({
            "sub": user.to_string(),
            "type": "refresh",
            "iat": iat,
            "exp": iat + self.refresh_ttl.as_secs() as i64,
            "jti": jti.to_string(),
            "sid": sid.to_string(),
        });
        self.sign(&self.refresh_encoding, &claims)
    }

    fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, InvalidToken> {
        let claims = self.decode(token, &self.access_decoding, "access", now)?;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or(InvalidToken)?;
        let expires_at = claims
            .get("exp")
            .and_then(numeric)
            .and_then(|exp| DateTime::from_timestamp(exp, 0))
            .ok_or(InvalidToken)?;
        Ok(AccessClaims {
            sub: sub.to_owned(),
            expires_at,
        })
    }

    fn verify_refresh(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<RefreshClaims, InvalidToken> {
        let claims = self.decode(token, &self.refresh_decoding, "refresh", now)?;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or(InvalidToken)?;
        Ok(RefreshClaims {
            sub: sub.to_owned(),
            jti: uuid_claim(&claims, "jti")?,
            sid: uuid_claim(&claims, "sid")?,
        })
    }

    fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::TimeZone;

    const ACCESS: &str = "access-key-0123456789abcdef0123456789abcdef";
    const REFRESH: &str = "refresh-key-0123456789abcdef0123456789abcde";

    fn tokens() -> JwtTokens {
        JwtTokens::new(
            ACCESS,
            REFRESH,
            Duration::from_secs(1800),
            Duration::from_secs(7 * 86_400),
        )
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn user() -> UserId {
        "5b0c7a3e-2f0e-4a55-9d39-0d0d3f6d1c11".parse().unwrap()
    }

    fn hs256(key: &str, claims: Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn access_tokens_round_trip_with_the_spec_claims() {
        let t = tokens();
        let token = t.issue_access(user(), now());
        assert_eq!(
            t.verify_access(&token, now()).unwrap().sub,
            user().to_string()
        );
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["type"], "access");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            1800
        );
        assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn expiry_has_ten_seconds_of_leeway() {
        let t = tokens();
        let token = t.issue_access(user(), now());
        assert!(
            t.verify_access(&token, now() + chrono::Duration::seconds(1810))
                .is_ok()
        );
        assert!(
            t.verify_access(&token, now() + chrono::Duration::seconds(1811))
                .is_err()
        );
    }

    #[test]
    fn refresh_tokens_are_not_access_tokens_and_vice_versa() {
        let t = tokens();
        let refresh = t.issue_refresh(user(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), now());
        assert!(t.verify_access(&refresh, now()).is_err());
        let access = t.issue_access(user(), now());
        assert!(t.verify_refresh(&access, now()).is_err());
        assert!(t.verify_refresh(&refresh, now()).is_ok());
    }

    #[test]
    fn reference_access_tokens_without_jti_are_accepted() {
        let iat = now().timestamp();
        let token = hs256(
            ACCESS,
            json!({"sub": user().to_string(), "type": "access", "iat": iat, "exp": iat + 60, "email": "x@y.z", "role": "admin"}),
        );
        assert!(tokens().verify_access(&token, now()).is_ok());
    }

    #[test]
    fn reference_refresh_tokens_signed_with_the_access_key_are_rejected() {
        let iat = now().timestamp();
        let token = hs256(
            ACCESS,
            json!({"sub": user().to_string(), "type": "refresh", "iat": iat, "exp": iat + 60}),
        );
        assert!(tokens().verify_refresh(&token, now()).is_err());
    }

    #[test]
    fn alg_none_and_other_algorithms_are_rejected() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let iat = now().timestamp();
        let payload = URL_SAFE_NO_PAD.encode(
            json!({"sub": user().to_string(), "type": "access", "exp": iat + 60}).to_string(),
        );
        assert!(
            tokens()
                .verify_access(&format!("{header}.{payload}."), now())
                .is_err()
        );
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &json!({"sub": user().to_string(), "type": "access", "exp": iat + 60}),
            &EncodingKey::from_secret(ACCESS.as_bytes()),
        )
        .unwrap();
        assert!(tokens().verify_access(&hs512, now()).is_err());
    }

    #[test]
    fn not_before_in_the_future_is_rejected() {
        let iat = now().timestamp();
        let early = hs256(
            ACCESS,
            json!({"sub": "x", "type": "access", "exp": iat + 600, "nbf": iat + 11}),
        );
        assert!(tokens().verify_access(&early, now()).is_err());
        let within = hs256(
            ACCESS,
            json!({"sub": "x", "type": "access", "exp": iat + 600, "nbf": iat + 10}),
        );
        assert!(tokens().verify_access(&within, now()).is_ok());
    }

    #[test]
    fn missing_exp_or_sub_is_rejected() {
        let iat = now().timestamp();
        assert!(
            tokens()
                .verify_access(&hs256(ACCESS, json!({"sub": "x", "type": "access"})), now())
                .is_err()
        );
        assert!(
            tokens()
                .verify_access(
                    &hs256(ACCESS, json!({"type": "access", "exp": iat + 60})),
                    now()
                )
                .is_err()
        );
        assert!(
            tokens()
                .verify_access(
                    &hs256(ACCESS, json!({"sub": 5, "type": "access", "exp": iat + 60})),
                    now()
                )
                .is_err()
        );
    }

    #[test]
    fn refresh_tokens_need_uuid_jti_and_sid() {
        let iat = now().timestamp();
        let no_sid = hs256(
            REFRESH,
            json!({"sub": "x", "type": "refresh", "exp": iat + 60, "jti": uuid::Uuid::new_v4().to_string()}),
        );
        assert!(tokens().verify_refresh(&no_sid, now()).is_err());
    }
}
