//! Firebase ID tokens for end-to-end tests: the shared test signing key with its self-signed
//! certificate (from `medico24_firebase::testing`), tokens signed with it, and the certificate
//! endpoint mounted on a fake Firebase server (e.g. `FakeFirebase::CERTS_PATH`).

use wiremock::MockServer;

pub use medico24_firebase::testing::FirebaseKeys;

/// The `kid` end-to-end tests publish the shared key under.
pub const TEST_KID: &str = "medico24-test-kid";

/// Mounts `GET path` on `server` → `{kid: certificate of FirebaseKeys::shared()}` with
/// `Cache-Control: public, max-age=max_age_secs`.
pub async fn mount_certs(server: &MockServer, path: &str, kid: &str, max_age_secs: u64) {
    FirebaseKeys::shared()
        .mount_certs(server, path, kid, max_age_secs)
        .await;
}

/// A valid ID token for `project_id` (standard claims issued at `now_unix`, valid for an hour),
/// signed with the shared key under [`TEST_KID`].
pub fn signed_id_token(project_id: &str, uid: &str, email: &str, now_unix: i64) -> String {
    FirebaseKeys::shared().sign(
        FirebaseKeys::standard_claims(project_id, uid, email, now_unix),
        TEST_KID,
    )
}

/// The same claims as [`signed_id_token`], unsigned (`alg: none`), for the Auth emulator mode.
pub fn unsigned_id_token(project_id: &str, uid: &str, email: &str, now_unix: i64) -> String {
    FirebaseKeys::unsigned(FirebaseKeys::standard_claims(
        project_id, uid, email, now_unix,
    ))
}
