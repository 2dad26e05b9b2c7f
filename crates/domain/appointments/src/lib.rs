//! The appointments domain: bookings with their state machine, ownership and double-booking
//! rules (`booking`). The care directory of doctors and clinics is the `medico24-directory` crate.

pub mod booking;
