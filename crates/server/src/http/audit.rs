//! The audit context of the current request: who acts, under which request id and from which
//! client address, for the audited writes of every handler module; and the audit of reads of
//! other users' personal or medical data.

use actix_web::{HttpMessage, HttpRequest};
use medico24_identity::{AccessRead, Actor, AuditContext, User};
use medico24_kernel::UserId;

use super::error::{ApiError, ApiResult};
use super::middleware::RequestContext;
use crate::state::AppState;

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

/// Records that `reader` read other users' personal or medical data, before the answer leaves:
/// a read that cannot be audited is answered 503 instead of with the data. The reader's own
/// data is not recorded, and a read of nobody else's data records nothing.
pub async fn audit_read(
    req: &HttpRequest,
    state: &AppState,
    reader: UserId,
    read: AccessRead,
) -> ApiResult<()> {
    let context = audit_context(req, Actor::User(reader));
    state.privacy.record_read(reader, context, read).await?;
    Ok(())
}

/// The user `target` read by the admin `reader`, recorded in the audit log as `action` before
/// anything is answered; 404 when there is no such user.
pub async fn read_user_audited(
    req: &HttpRequest,
    state: &AppState,
    reader: UserId,
    target: UserId,
    action: &'static str,
) -> ApiResult<User> {
    let user = state
        .identity
        .load_user(target)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    let read = AccessRead {
        action,
        resource_type: "user",
        resource_id: Some(target.to_string()),
        subjects: vec![target],
    };
    audit_read(req, state, reader, read).await?;
    Ok(user)
}
