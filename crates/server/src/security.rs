//! Small security primitives shared by handlers.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Compares two secrets in constant time: both are HMAC-SHA256'd under a fixed key, so neither
/// their contents nor their lengths leak through timing.
pub fn constant_time_eq(presented: &str, expected: &str) -> bool {
    // HMAC accepts keys of any length, so this never fails in practice.
    let Ok(keyed) = <Hmac<Sha256> as KeyInit>::new_from_slice(b"medico24-secret-comparison") else {
        return false;
    };
    let mut expected_mac = keyed.clone();
    expected_mac.update(expected.as_bytes());
    let expected_tag = expected_mac.finalize().into_bytes();
    let mut presented_mac = keyed;
    presented_mac.update(presented.as_bytes());
    presented_mac.verify_slice(&expected_tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_secrets_match_and_others_do_not() {
        assert!(constant_time_eq("s3cret", "s3cret"));
        assert!(!constant_time_eq("s3cret", "s3creT"));
        assert!(!constant_time_eq("", "s3cret"));
    }
}
