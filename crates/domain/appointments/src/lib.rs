//! The appointments domain: bookings with their state machine, ownership and double-booking
//! rules (`booking`), and the care directory of doctors, clinics and their associations.

pub mod booking;
pub mod directory;
