//! Firebase adapter: verification of Firebase ID tokens against Google's x509 certificates,
//! implementing the identity domain's `IdTokenVerifier` port, and FCM HTTP v1 push sending with
//! a service-account OAuth2 token, implementing the notifications domain's `PushSender` port
//! (`PushProvider`: FCM, or disabled without credentials).

mod certs;
pub mod fcm;
pub mod id_token;
pub mod oauth;
pub mod outcome;
pub mod provider;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use fcm::{DEFAULT_FCM_BASE_URL, FcmConfig, FcmPushSender, Sleeper, TokioSleeper};
pub use id_token::{DEFAULT_CERTS_URL, FirebaseIdTokenVerifier, IdTokenVerifierConfig};
pub use oauth::{CallObserver, ServiceAccount, ServiceAccountError};
pub use outcome::{FetchObserver, Outcome};
pub use provider::PushProvider;
