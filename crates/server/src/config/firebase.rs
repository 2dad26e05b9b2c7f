//! Firebase identity settings: the service account (inline JSON or a file), the project id and
//! the Auth emulator host, and where the token-signing certificates are fetched from.

use super::Reader;

pub(super) const DEFAULT_CERTS_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

/// What `FIREBASE_CONFIG_JSON` / `FIREBASE_CREDENTIALS_PATH`, `FIREBASE_PROJECT_ID` and
/// `FIREBASE_AUTH_EMULATOR_HOST` say.
pub(super) struct FirebaseIdentity {
    /// `FIREBASE_PROJECT_ID`, else the service account's `project_id`.
    pub(super) project_id: Option<String>,
    /// The service-account JSON.
    pub(super) service_account: Option<String>,
    /// The Auth emulator host (always `None` in production).
    pub(super) auth_emulator_host: Option<String>,
}

/// Reads the Firebase identity, recording every problem and warning in `r`.
pub(super) fn read(r: &mut Reader<'_>, production: bool) -> FirebaseIdentity {
    let service_account = match r.optional("FIREBASE_CONFIG_JSON") {
        Some(json) => Some(json),
        None => r.optional("FIREBASE_CREDENTIALS_PATH").and_then(|path| {
            std::fs::read_to_string(&path)
                .map_err(|_| {
                    r.problem("FIREBASE_CREDENTIALS_PATH names a file that cannot be read")
                })
                .ok()
        }),
    };
    let service_account_project = service_account.as_deref().and_then(|json| {
        match serde_json::from_str::<serde_json::Value>(json) {
            Ok(value) => value
                .get("project_id")
                .and_then(|p| p.as_str())
                .map(str::to_owned),
            Err(_) => {
                r.problem("FIREBASE_CONFIG_JSON / FIREBASE_CREDENTIALS_PATH is not valid JSON");
                None
            }
        }
    });
    let firebase_project_id = r
        .optional("FIREBASE_PROJECT_ID")
        .or(service_account_project);
    if production && firebase_project_id.is_none() {
        r.problem(
            "FIREBASE_PROJECT_ID (or a service account with project_id) is required in production",
        );
    }
    let emulator_host = r.optional("FIREBASE_AUTH_EMULATOR_HOST");
    let firebase_auth_emulator_host = match (emulator_host, production) {
        (Some(_), true) => {
            r.warnings
                .push("FIREBASE_AUTH_EMULATOR_HOST is ignored in production".to_owned());
            None
        }
        (host, _) => host,
    };
    FirebaseIdentity {
        project_id: firebase_project_id,
        service_account,
        auth_emulator_host: firebase_auth_emulator_host,
    }
}
