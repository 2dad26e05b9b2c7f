//! Admin user management and the audit trail.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_identity::{AccessRead, Actor, AdminUserChange, AuditFilter, User, UserFilter};
use medico24_kernel::{Role, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use actix_web::http::Method;

use super::audit::{audit_context, audit_read, read_user_audited};
use super::cursor::{CursorParams, CursorScope, next_cursor};
use super::error::ApiResult;
use super::input::{self, Query, Text, path_uuid, request_body, request_query};
use super::paging::PageParams;
use super::routing::RouteRegistry;
use super::wire;
use crate::auth::AdminUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// A user as an admin sees it (no Firebase uid).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserResponse {
    /// User id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Email.
    pub email: String,
    /// Email verified.
    pub email_verified: bool,
    /// `google`.
    pub auth_provider: String,
    /// Display name.
    pub full_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Avatar URL.
    pub photo_url: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Role.
    #[schema(value_type = crate::openapi::enums::Role)]
    pub role: String,
    /// Active.
    pub is_active: bool,
    /// Onboarded.
    pub is_onboarded: bool,
    /// Creation time.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last update.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// Last login.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<&User> for AdminUserResponse {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            auth_provider: user.auth_provider.clone(),
            full_name: user.full_name.clone(),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            photo_url: user.photo_url.clone(),
            phone: user.phone.clone(),
            role: user.role.as_str().to_owned(),
            is_active: user.is_active,
            is_onboarded: user.is_onboarded,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserPage {
    /// Users of this page.
    pub users: Vec<AdminUserResponse>,
    /// Matching users over all pages.
    pub total: u64,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
    /// `ceil(total / page_size)`.
    pub total_pages: u64,
    /// Cursor of the next page (pass it as `cursor`, with the same filters and `page_size`);
    /// `null` on the last page.
    pub next_cursor: Option<String>,
}

request_body! {
    /// `PATCH /admin/users/{id}` body.
    pub struct AdminUserUpdateRequest {
        /// New role.
        pub role: Option<Role>,
        /// New activation state.
        pub is_active: Option<bool>,
    }
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventResponse {
    /// Event id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Acting user.
    #[schema(format = Uuid)]
    pub actor_user_id: Option<String>,
    /// `user` or `admin_secret`.
    pub actor_type: String,
    /// Action (`user.update`, …).
    pub action: String,
    /// Resource type.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Request id.
    pub request_id: String,
    /// Client IP.
    pub ip: Option<String>,
    /// When.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// Changed fields.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// The users whose data the action read or changed (reads are actions ending in `.read`).
    #[schema(value_type = Vec<String>, format = Uuid)]
    pub subject_ids: Vec<String>,
}

/// A page of audit events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Events of this page.
    pub events: Vec<AuditEventResponse>,
    /// Matching events over all pages.
    pub total: u64,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
    /// `ceil(total / page_size)`.
    pub total_pages: u64,
}

request_query! {
    /// Filters of the admin user list.
    pub struct UserFilterParams {
        /// Exact role
        pub role: Option<Role>,
        /// Activation state
        pub is_active: Option<bool>,
        /// Substring of name or email
        pub search: Option<Text<0, 200>>,
    }
}

/// The cursor scope of the user list: its filters and page size.
fn user_scope(filter: &UserFilter, page_size: u32) -> CursorScope {
    CursorScope::new("admin_users", page_size)
        .field("role", filter.role.as_ref().map(Role::as_str))
        .field("is_active", filter.is_active)
        .field("search", filter.search.as_deref())
}

request_query! {
    /// Filters of the audit log.
    pub struct AuditFilterParams {
        /// Acting user
        pub actor_user_id: Option<uuid::Uuid>,
        /// Exact action
        pub action: Option<Text<0, 200>>,
        /// Exact resource type
        pub resource_type: Option<Text<0, 200>>,
        /// Exact resource id
        pub resource_id: Option<Text<0, 200>>,
        /// A user whose data the event read or changed
        pub subject_id: Option<uuid::Uuid>,
        /// Inclusive lower bound on `at`
        pub from_date: Option<DateTime<Utc>>,
        /// Inclusive upper bound on `at`
        pub to_date: Option<DateTime<Utc>>,
    }
}

/// Lists users (newest first).
///
/// Pages are numbered (`page`), or reached by following `next_cursor`: a cursor page costs the
/// same at any depth, while `page=N` reads and skips the `(N − 1) × page_size` rows before it.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", operation_id = "admin_list_users",
    security(("bearerAuth" = [])),
    params(CursorParams, UserFilterParams),
    responses(
        (status = 200, description = "A page of users", body = AdminUserPage),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn list_users(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = Query::new(&req);
    let paging = query.read::<CursorParams>();
    let filter = query.read::<UserFilterParams>().map(|filter| UserFilter {
        role: filter.role,
        is_active: filter.is_active,
        search: filter.search.map(String::from),
    });
    let scope = filter
        .as_ref()
        .zip(paging.as_ref())
        .map(|(filter, paging)| user_scope(filter, paging.page_size()));
    let page = CursorParams::resolve(paging, &mut query, scope.as_ref());
    let (page, filter, scope) = query.complete((page, filter, scope))?;
    let result = state.identity.list_users(&filter, page).await?;
    let read = AccessRead {
        action: "user.list.read",
        resource_type: "user",
        resource_id: None,
        subjects: result.items.iter().map(|user| user.id).collect(),
    };
    audit_read(&req, &state, admin.0.id, read).await?;
    Ok(HttpResponse::Ok().json(AdminUserPage {
        total_pages: result.total_pages(),
        total: result.total,
        page: page.page(),
        page_size: page.page_size(),
        next_cursor: next_cursor(&result, &scope),
        users: result.items.iter().map(AdminUserResponse::from).collect(),
    }))
}

/// One user (recorded in the audit log as `user.read`).
#[utoipa::path(get, path = "/api/v1/admin/users/{user_id}", tag = "admin", operation_id = "admin_get_user",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = AdminUserResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown user", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn get_user(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let target = UserId::from_uuid(path_uuid(&req, "user_id")?);
    let user = read_user_audited(&req, &state, admin.0.id, target, "user.read").await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse::from(&user)))
}

/// Changes a user's role or activation.
#[utoipa::path(patch, path = "/api/v1/admin/users/{user_id}", tag = "admin", operation_id = "admin_update_user",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id")),
    request_body = AdminUserUpdateRequest,
    responses(
        (status = 200, description = "The user", body = AdminUserResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown user", body = ErrorResponse),
        (status = 409, description = "Would remove the caller's own admin role or activation", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn update_user(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let target = UserId::from_uuid(path_uuid(&req, "user_id")?);
    let body: AdminUserUpdateRequest = input::body(&req, &body)?;
    let change = AdminUserChange {
        role: body.role,
        is_active: body.is_active,
    };
    let audit = audit_context(&req, Actor::User(admin.0.id));
    let user = state
        .identity
        .admin_update_user(&admin.0, target, change, &audit)
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse::from(&user)))
}

/// Lists audit events (newest first).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", operation_id = "admin_list_audit",
    security(("bearerAuth" = [])),
    params(PageParams, AuditFilterParams),
    responses(
        (status = 200, description = "A page of audit events", body = AuditPage),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn list_audit(
    _admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = Query::new(&req);
    let page = query.read::<PageParams>();
    let filter = query.read::<AuditFilterParams>();
    let (page, filter) = query.complete((page, filter))?;
    let page = page.request();
    let filter = AuditFilter {
        actor_user_id: filter.actor_user_id.map(UserId::from_uuid),
        action: filter.action.map(String::from),
        resource_type: filter.resource_type.map(String::from),
        resource_id: filter.resource_id.map(String::from),
        subject_id: filter.subject_id.map(UserId::from_uuid),
        from: filter.from_date,
        to: filter.to_date,
    };
    let result = state.identity.list_audit(&filter, page).await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        total_pages: result.total_pages(),
        total: result.total,
        page: page.page(),
        page_size: page.page_size(),
        events: result
            .items
            .into_iter()
            .map(|e| AuditEventResponse {
                id: e.id.to_string(),
                actor_user_id: e.actor_user_id.map(|id| id.to_string()),
                actor_type: e.actor_type,
                action: e.action,
                resource_type: e.resource_type,
                resource_id: e.resource_id,
                request_id: e.request_id,
                ip: e.ip,
                at: e.at,
                details: e.details,
                subject_ids: e.subject_ids.iter().map(ToString::to_string).collect(),
            })
            .collect(),
    }))
}

/// Registers the admin users routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    routes
        .route(Method::GET, &format!("{prefix}/admin/users"), list_users)
        .route(
            Method::GET,
            &format!("{prefix}/admin/users/{{user_id}}"),
            get_user,
        )
        .route(
            Method::PATCH,
            &format!("{prefix}/admin/users/{{user_id}}"),
            update_user,
        )
        .route(Method::GET, &format!("{prefix}/admin/audit"), list_audit);
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_users, get_user, update_user, list_audit))]
pub struct Docs;

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::http::input::{enum_message, parse_object};

    #[test]
    fn a_role_outside_the_set_names_the_roles_in_document_order() {
        let Value::Object(body) = json!({"role": "Admin", "is_active": "yes"}) else {
            unreachable!()
        };
        let error = parse_object::<AdminUserUpdateRequest>(&body).unwrap_err();
        let details = error.body().render("/", "r")["details"].clone();
        assert_eq!(details[0]["loc"], json!(["body", "role"]));
        assert_eq!(
            details[0]["msg"],
            enum_message(&["patient", "doctor", "pharmacy", "admin"])
        );
        assert_eq!(details[1]["type"], "bool_type");
        let Value::Object(body) = json!({"role": "doctor", "is_active": null}) else {
            unreachable!()
        };
        let read = parse_object::<AdminUserUpdateRequest>(&body).unwrap();
        assert_eq!((read.role, read.is_active), (Some(Role::Doctor), None));
    }
}
