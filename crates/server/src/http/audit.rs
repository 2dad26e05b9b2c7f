//! The audit context of the current request: who acts, under which request id and from which
//! client address, for the audited writes of every handler module.

use actix_web::{HttpMessage, HttpRequest};
use medico24_identity::{Actor, AuditContext};
use medico24_kernel::UserId;

use super::middleware::RequestContext;

/// The audit context of the current request, acting as `actor`.
pub fn audit_context(req: &HttpRequest, actor: Actor) -> AuditContext {
    let context = req.extensions().get::<RequestContext>().cloned();
    AuditContext {
        actor,
        request_id: context
            .as_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default(),
        ip: context.and_then(|c| c.client_ip),
    }
}

/// The kernel audit stamp of the current request, acting as the authenticated `actor`.
pub fn audit_stamp(req: &HttpRequest, actor: UserId) -> medico24_kernel::AuditStamp {
    let context = req.extensions().get::<RequestContext>().cloned();
    medico24_kernel::AuditStamp::user(
        actor,
        context
            .as_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default(),
        context.and_then(|c| c.client_ip),
    )
}
