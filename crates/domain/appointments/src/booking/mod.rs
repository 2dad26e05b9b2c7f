//! Appointments: the aggregate, its status state machine and role rules, booking and change use
//! cases, the notification messages they announce, the reminders they schedule, and the
//! repository port.

pub mod events;
pub mod messages;
pub mod model;
pub mod ports;
pub mod reminders;
pub mod rules;
pub mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use events::*;
pub use messages::*;
pub use model::*;
pub use ports::*;
pub use reminders::*;
pub use rules::*;
pub use service::*;
