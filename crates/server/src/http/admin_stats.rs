//! Admin statistics: `GET /api/v1/admin/metrics` and
//! `GET /api/v1/admin/dashboard/stats`. The counts come from the kernel's `AdminStatsReader`
//! (SQL aggregates in the postgres adapter); this module adds the live dependency checks, the
//! uptime, the push-provider status and the exact text formats of the dashboard. Concurrent
//! requests share one computation of each answer (`crate::coalesce`): an admin console polled by
//! many tabs costs one reading per moment, not one per tab.

use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use chrono::{Datelike, Utc};
use medico24_kernel::PortError;
use medico24_kernel::stats::{AdminMetrics, AdminStatsReader, DashboardCounts};
use serde::Serialize;
use utoipa::ToSchema;

use super::checks::{CheckResult, CheckStatus, check_dependencies};
use super::error::ApiResult;
use super::routing::RouteRegistry;
use crate::auth::AdminUser;
use crate::openapi::schemas::ErrorResponse;
use crate::state::AppState;

/// Below this 24 h delivery rate (in %) push delivery is reported as a `warning`.
const HEALTHY_DELIVERY_RATE: f64 = 95.0;

/// Users by role (every role always present).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMetricsUsersByRole {
    /// Patients.
    pub patient: i64,
    /// Doctors.
    pub doctor: i64,
    /// Pharmacy accounts.
    pub pharmacy: i64,
    /// Admins.
    pub admin: i64,
}

/// User counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMetricsUsers {
    /// Every user.
    pub total: i64,
    /// Active users.
    pub active: i64,
    /// By role.
    pub by_role: AdminMetricsUsersByRole,
}

/// Non-deleted appointments by status (every status always present).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMetricsAppointmentsByStatus {
    /// `scheduled`.
    pub scheduled: i64,
    /// `confirmed`.
    pub confirmed: i64,
    /// `rescheduled`.
    pub rescheduled: i64,
    /// `cancelled`.
    pub cancelled: i64,
    /// `completed`.
    pub completed: i64,
    /// `no_show`.
    pub no_show: i64,
}

/// Appointment counts (soft-deleted rows excluded).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMetricsAppointments {
    /// Every non-deleted appointment.
    pub total: i64,
    /// Status `scheduled`.
    pub pending: i64,
    /// Status `confirmed`.
    pub confirmed: i64,
    /// By status.
    pub by_status: AdminMetricsAppointmentsByStatus,
}

/// Pharmacy counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMetricsPharmacies {
    /// Every pharmacy.
    pub total: i64,
    /// Verified.
    pub verified: i64,
    /// Active.
    pub active: i64,
}

/// Notifications by `sent_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMetricsNotifications {
    /// Since today 00:00 UTC.
    pub sent_today: i64,
    /// In the last 7 × 24 h.
    pub sent_this_week: i64,
    /// In the last 30 × 24 h.
    pub sent_this_month: i64,
}

/// `GET /admin/metrics`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AdminMetrics)]
pub struct AdminMetricsResponse {
    /// Users.
    pub users: AdminMetricsUsers,
    /// Appointments.
    pub appointments: AdminMetricsAppointments,
    /// Pharmacies.
    pub pharmacies: AdminMetricsPharmacies,
    /// Notifications.
    pub notifications: AdminMetricsNotifications,
}

impl From<AdminMetrics> for AdminMetricsResponse {
    fn from(m: AdminMetrics) -> Self {
        Self {
            users: AdminMetricsUsers {
                total: m.users.total,
                active: m.users.active,
                by_role: AdminMetricsUsersByRole {
                    patient: m.users.patient,
                    doctor: m.users.doctor,
                    pharmacy: m.users.pharmacy,
                    admin: m.users.admin,
                },
            },
            appointments: AdminMetricsAppointments {
                total: m.appointments.total,
                pending: m.appointments.scheduled,
                confirmed: m.appointments.confirmed,
                by_status: AdminMetricsAppointmentsByStatus {
                    scheduled: m.appointments.scheduled,
                    confirmed: m.appointments.confirmed,
                    rescheduled: m.appointments.rescheduled,
                    cancelled: m.appointments.cancelled,
                    completed: m.appointments.completed,
                    no_show: m.appointments.no_show,
                },
            },
            pharmacies: AdminMetricsPharmacies {
                total: m.pharmacies.total,
                verified: m.pharmacies.verified,
                active: m.pharmacies.active,
            },
            notifications: AdminMetricsNotifications {
                sent_today: m.notifications.sent_today,
                sent_this_week: m.notifications.sent_this_week,
                sent_this_month: m.notifications.sent_this_month,
            },
        }
    }
}

/// One dashboard card.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardStatCard {
    /// The headline number.
    pub value: i64,
    /// The change shown next to it (`+12.4%`, `+18`, `97.5%`).
    pub change: String,
    /// What the change means (`from last month`, `active today`, …).
    pub description: String,
}

/// The four dashboard cards.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardStatCards {
    /// All users; change = growth over users older than 30 days.
    pub total_users: DashboardStatCard,
    /// Non-deleted appointments; change = non-cancelled ones taking place today.
    pub appointments: DashboardStatCard,
    /// Verified pharmacies; change = pharmacies created in the last 7 days.
    pub verified_pharmacies: DashboardStatCard,
    /// Notifications sent in the last 24 h; change = their delivery rate.
    pub notifications_sent: DashboardStatCard,
}

/// One day of the dashboard chart.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardChartDay {
    /// English weekday abbreviation of `date` (`Mon` … `Sun`).
    pub name: String,
    /// UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// Non-deleted appointments created that day.
    pub appointments: i64,
    /// Pharmacies created that day.
    pub pharmacies: i64,
}

/// One line of the system-status panel.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardActivity {
    /// `online`, `warning` or `offline`.
    #[schema(value_type = crate::openapi::enums::ActivityStatus)]
    pub status: String,
    /// Component name.
    pub title: String,
    /// Detail (uptime, latency, delivery rate or failure).
    pub description: String,
    /// Always `Now` (the checks are live).
    pub time: String,
}

/// `GET /admin/dashboard/stats`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DashboardStats)]
pub struct DashboardStatsResponse {
    /// The four cards.
    pub stats: DashboardStatCards,
    /// Seven days, oldest first, ending today (UTC).
    pub chart_data: Vec<DashboardChartDay>,
    /// Main API, database, Redis and push delivery, in that order.
    pub recent_activity: Vec<DashboardActivity>,
}

/// Platform-wide counts.
#[utoipa::path(get, path = "/api/v1/admin/metrics", tag = "admin", operation_id = "admin_metrics",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Counts of users, appointments, pharmacies and notifications", body = AdminMetricsResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn metrics(_admin: AdminUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let reader = state.clone();
    let body = state
        .admin_reads
        .metrics
        .get(move || async move {
            let metrics = reader.admin_stats.metrics(Utc::now()).await?;
            to_json(&AdminMetricsResponse::from(metrics))
        })
        .await?;
    Ok(json_body(body))
}

/// `value` as a JSON body (shared by every request that waited for it).
fn to_json(value: &impl Serialize) -> Result<Bytes, PortError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| PortError::Unexpected(format!("serializing admin statistics: {e}")))
}

fn json_body(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body)
}

/// The admin dashboard: cards, a 7-day chart and live system status.
#[utoipa::path(get, path = "/api/v1/admin/dashboard/stats", tag = "admin", operation_id = "admin_dashboard_stats",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Dashboard figures", body = DashboardStatsResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn dashboard(_admin: AdminUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let reader = state.clone();
    let body = state
        .admin_reads
        .dashboard
        .get(move || async move { to_json(&dashboard_answer(&reader).await?) })
        .await?;
    Ok(json_body(body))
}

async fn dashboard_answer(state: &AppState) -> Result<DashboardStatsResponse, PortError> {
    let (counts, checks) = tokio::join!(
        state.admin_stats.dashboard(Utc::now()),
        check_dependencies(state)
    );
    let counts = counts?;
    let delivery_rate = counts.delivery_rate_percent();
    let uptime = state.started_at.elapsed().as_secs();
    // The sender actually built: an unusable service account leaves push disabled.
    let push_configured = state.notifications.push_enabled();
    let recent_activity = vec![
        activity(
            "online",
            "Main API Online",
            format!(
                "Uptime {}d {}h {}m",
                uptime / 86_400,
                uptime % 86_400 / 3600,
                uptime % 3600 / 60
            ),
        ),
        dependency_activity("PostGIS Database", &checks.database),
        dependency_activity("Redis Cache", &checks.redis),
        push_activity(push_configured, delivery_rate),
    ];
    Ok(DashboardStatsResponse {
        stats: cards(&counts),
        chart_data: counts
            .chart
            .iter()
            .map(|day| DashboardChartDay {
                name: day.date.weekday().to_string(),
                date: day.date.format("%Y-%m-%d").to_string(),
                appointments: day.appointments,
                pharmacies: day.pharmacies,
            })
            .collect(),
        recent_activity,
    })
}

fn cards(counts: &DashboardCounts) -> DashboardStatCards {
    let card = |value: i64, change: String, description: &str| DashboardStatCard {
        value,
        change,
        description: description.to_owned(),
    };
    DashboardStatCards {
        total_users: card(
            counts.total_users,
            signed_percent(counts.user_growth_percent()),
            "from last month",
        ),
        appointments: card(
            counts.appointments,
            format!("+{}", counts.appointments_today),
            "active today",
        ),
        verified_pharmacies: card(
            counts.verified_pharmacies,
            format!("+{}", counts.pharmacies_last_7_days),
            "new this week",
        ),
        notifications_sent: card(
            counts.notifications_last_24h,
            format!("{:.1}%", counts.delivery_rate_percent()),
            "delivery rate",
        ),
    }
}

/// `+12.4%`, `+0.0%` (and `-3.1%` should users ever shrink).
fn signed_percent(value: f64) -> String {
    format!("{value:+.1}%")
}

fn activity(status: &str, title: &str, description: String) -> DashboardActivity {
    DashboardActivity {
        status: status.to_owned(),
        title: title.to_owned(),
        description,
        time: "Now".to_owned(),
    }
}

fn dependency_activity(title: &str, check: &CheckResult) -> DashboardActivity {
    match (check.status, check.latency_ms) {
        (CheckStatus::Healthy, Some(latency)) => {
            activity("online", title, format!("Latency {latency:.1} ms"))
        }
        _ => activity("offline", title, "Health check failed".to_owned()),
    }
}

fn push_activity(configured: bool, delivery_rate: f64) -> DashboardActivity {
    const TITLE: &str = "Firebase Cloud Messaging";
    if !configured {
        return activity("offline", TITLE, "Push provider not configured".to_owned());
    }
    let status = if delivery_rate < HEALTHY_DELIVERY_RATE {
        "warning"
    } else {
        "online"
    };
    activity(
        status,
        TITLE,
        format!("Delivery rate {delivery_rate:.1}% in the last 24h"),
    )
}

/// Registers the admin statistics routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    routes
        .route(Method::GET, &format!("{prefix}/admin/metrics"), metrics)
        .route(
            Method::GET,
            &format!("{prefix}/admin/dashboard/stats"),
            dashboard,
        );
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(metrics, dashboard))]
pub struct Docs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_formatted_like_the_reference() {
        assert_eq!(signed_percent(12.4), "+12.4%");
        assert_eq!(signed_percent(0.0), "+0.0%");
        assert_eq!(signed_percent(100.0 / 3.0), "+33.3%");
        assert_eq!(format!("{:.1}%", 97.5_f64), "97.5%");
        assert_eq!(format!("{:.1}%", 100.0_f64), "100.0%");
    }

    #[test]
    fn push_status_follows_configuration_and_the_delivery_rate() {
        let off = push_activity(false, 100.0);
        assert_eq!(
            (off.status.as_str(), off.description.as_str()),
            ("offline", "Push provider not configured")
        );
        let warn = push_activity(true, 94.9);
        assert_eq!(
            (warn.status.as_str(), warn.description.as_str()),
            ("warning", "Delivery rate 94.9% in the last 24h")
        );
        let ok = push_activity(true, 95.0);
        assert_eq!(ok.status, "online");
    }

    #[test]
    fn weekday_names_are_english_abbreviations() {
        let monday = chrono::NaiveDate::from_ymd_opt(2026, 2, 9).unwrap_or_default();
        assert_eq!(monday.weekday().to_string(), "Mon");
        assert_eq!((monday + chrono::Days::new(6)).weekday().to_string(), "Sun");
    }
}
