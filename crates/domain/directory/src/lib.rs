//! The care directory: clinics with URL-safe unique slugs, doctors with admin
//! verification, doctor–clinic associations, nearby searches on the sphere, the detail caches,
//! and the ports the adapters implement.

pub mod association;
pub mod clinic;
pub mod doctor;
pub mod ports;
pub mod rules;
pub mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use association::*;
pub use clinic::*;
pub use doctor::*;
pub use ports::*;
pub use rules::{
    DecimalError, FEE_MAX, SLUG_PATTERN, check_fee, decimal_places, first_free_slug,
    is_suffixed_form_of, is_valid_slug, round_coordinate, slug_from_name,
};
pub use service::*;
