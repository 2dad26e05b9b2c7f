//! The notifications domain: push tokens (one owner per token), notification records and their
//! per-device deliveries, the send pipeline with its status rules, the consumer of
//! the transactional outbox, broadcasts in resumable batches, history and statistics; the ports
//! these need (`NotificationRepository`, `PushSender`, `NotificationEvents`); appointment
//! reminders and the users' notification preferences.

pub mod events;
pub mod model;
pub mod outbox;
pub mod outcome;
pub mod ports;
pub mod preferences;
pub mod service;

pub use events::*;
pub use model::*;
pub use outbox::*;
pub use outcome::*;
pub use ports::*;
pub use preferences::*;
pub use service::*;

#[cfg(test)]
mod service_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
