//! Signing secrets: the access and refresh token keys (with the production strength checks) and
//! the admin notification secret.

use super::Reader;

/// Default value of `ADMIN_NOTIFICATION_SECRET` outside production.
pub const DEV_ADMIN_SECRET: &str = "test-admin-secret-for-development-only";

/// Reads `JWT_SECRET_KEY`, `JWT_ALGORITHM` and `JWT_REFRESH_SECRET_KEY`, recording every problem
/// in `r`; returns the access key (when set) and the refresh key (random per process outside
/// production when unset).
pub(super) fn read_jwt_secrets(r: &mut Reader<'_>, production: bool) -> (Option<String>, String) {
    let jwt_secret = r.optional("JWT_SECRET_KEY");
    if jwt_secret.is_none() {
        r.problem("JWT_SECRET_KEY is required");
    }
    let jwt_refresh_secret = r.optional("JWT_REFRESH_SECRET_KEY");
    let algorithm = r.text("JWT_ALGORITHM", "HS256");
    if algorithm != "HS256" {
        r.problem("JWT_ALGORITHM must be HS256 (the only supported algorithm)");
    }
    let jwt_refresh_secret = match jwt_refresh_secret {
        Some(secret) => secret,
        None => {
            if production {
                r.problem("JWT_REFRESH_SECRET_KEY is required in production");
            } else {
                r.warnings.push(
                    "JWT_REFRESH_SECRET_KEY is not set: using a random per-process key; refresh tokens die with the process"
                        .to_owned(),
                );
            }
            random_secret()
        }
    };
    if production {
        if let Some(secret) = &jwt_secret {
            check_production_secret(r, "JWT_SECRET_KEY", secret);
        }
        check_production_secret(r, "JWT_REFRESH_SECRET_KEY", &jwt_refresh_secret);
        if jwt_secret.as_deref() == Some(jwt_refresh_secret.as_str()) {
            r.problem("JWT_SECRET_KEY and JWT_REFRESH_SECRET_KEY must differ");
        }
    }
    (jwt_secret, jwt_refresh_secret)
}

/// Reads `ADMIN_NOTIFICATION_SECRET` (the development default outside production when unset),
/// recording every problem in `r`.
pub(super) fn read_admin_secret(r: &mut Reader<'_>, production: bool) -> String {
    match r.optional("ADMIN_NOTIFICATION_SECRET") {
        Some(secret) => {
            if production && (secret.chars().count() < 32 || secret == DEV_ADMIN_SECRET) {
                r.problem(
                    "ADMIN_NOTIFICATION_SECRET must be at least 32 characters and not the development default in production",
                );
            }
            secret
        }
        None => {
            if production {
                r.problem("ADMIN_NOTIFICATION_SECRET is required in production");
            } else {
                r.warnings.push(
                    "ADMIN_NOTIFICATION_SECRET is not set: using the development default"
                        .to_owned(),
                );
            }
            DEV_ADMIN_SECRET.to_owned()
        }
    }
}

fn check_production_secret(r: &mut Reader<'_>, name: &str, value: &str) {
    let lower = value.to_ascii_lowercase();
    let placeholder = ["change-me", "secret", "your-secret-key"].contains(&lower.as_str())
        || lower.contains("change-this");
    if value.len() < 32 || placeholder {
        r.problem(&format!(
            "{name} must be at least 32 bytes and not a placeholder in production"
        ));
    }
}

fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}
