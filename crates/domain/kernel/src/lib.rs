//! Shared value types of every Medico24 domain: typed ids, roles, paging and the `Clock` port.

pub mod audit;
pub mod clock;
pub mod contact;
pub mod id;
pub mod paging;
pub mod port;
pub mod role;
pub mod stats;

pub use audit::AuditStamp;
pub use clock::{Clock, FixedClock, SystemClock};
pub use contact::{Phone, PhoneError, check_phone, is_valid_email};
pub use id::{
    AppointmentId, AssociationId, AuditEventId, BroadcastId, ClinicId, DoctorId, NotificationId,
    PharmacyId, PushTokenId, UserId,
};
pub use paging::{Page, PageRequest, PageRequestError};
pub use port::PortError;
pub use role::{ParseRoleError, Role};
