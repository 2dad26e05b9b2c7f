//! Firebase adapter: verification of Firebase ID tokens against Google's x509 certificates
//! (spec §18.1, §18.2), implementing the identity domain's `IdTokenVerifier` port.

mod certs;
pub mod id_token;
pub mod outcome;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use id_token::{DEFAULT_CERTS_URL, FirebaseIdTokenVerifier, IdTokenVerifierConfig};
pub use outcome::{FetchObserver, Outcome};
