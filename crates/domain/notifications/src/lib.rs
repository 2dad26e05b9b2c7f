//! The notifications domain: push tokens (one owner per token), notification records and their
//! per-device deliveries, the send pipeline with its status rules, the consumer of
//! the transactional outbox, broadcasts in resumable batches, history and statistics; the ports
//! these need (`NotificationRepository`, `PushSender`, `NotificationEvents`).

pub mod events;
pub mod model;
pub mod outcome;
pub mod ports;
pub mod service;

pub use events::*;
pub use model::*;
pub use outcome::*;
pub use ports::*;
pub use service::*;

#[cfg(test)]
mod service_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
