//! Read models of the admin console's statistics and the port that computes
//! them. They count rows of several domains at once (users, appointments, pharmacies,
//! notifications), so they live in the kernel as cross-domain reporting models rather than in any
//! one domain; nothing here changes state.

use std::future::Future;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::PortError;

/// Users by state and role (`users` rows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserCounts {
    /// Every user.
    pub total: i64,
    /// Users with `is_active`.
    pub active: i64,
    /// Role `patient`.
    pub patient: i64,
    /// Role `doctor`.
    pub doctor: i64,
    /// Role `pharmacy`.
    pub pharmacy: i64,
    /// Role `admin`.
    pub admin: i64,
}

/// Appointments that are not soft-deleted, by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppointmentCounts {
    /// Every non-deleted appointment.
    pub total: i64,
    /// Status `scheduled` (reported as `pending` too).
    pub scheduled: i64,
    /// Status `confirmed`.
    pub confirmed: i64,
    /// Status `rescheduled`.
    pub rescheduled: i64,
    /// Status `cancelled`.
    pub cancelled: i64,
    /// Status `completed`.
    pub completed: i64,
    /// Status `no_show`.
    pub no_show: i64,
}

/// Pharmacies by flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PharmacyCounts {
    /// Every pharmacy.
    pub total: i64,
    /// `is_verified`.
    pub verified: i64,
    /// `is_active`.
    pub active: i64,
}

/// Notifications by `sent_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotificationCounts {
    /// `sent_at` ≥ today 00:00 UTC.
    pub sent_today: i64,
    /// `sent_at` ≥ now − 7 × 24 h.
    pub sent_this_week: i64,
    /// `sent_at` ≥ now − 30 × 24 h.
    pub sent_this_month: i64,
}

/// `GET /admin/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdminMetrics {
    /// Users.
    pub users: UserCounts,
    /// Appointments (soft-deleted excluded).
    pub appointments: AppointmentCounts,
    /// Pharmacies.
    pub pharmacies: PharmacyCounts,
    /// Notifications.
    pub notifications: NotificationCounts,
}

/// One UTC day of the dashboard chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartDay {
    /// The UTC calendar date.
    pub date: NaiveDate,
    /// Non-deleted appointments created that day.
    pub appointments: i64,
    /// Pharmacies created that day.
    pub pharmacies: i64,
}

/// The counts behind `GET /admin/dashboard/stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardCounts {
    /// Every user.
    pub total_users: i64,
    /// Users created before now − 30 × 24 h (the growth base).
    pub users_before_last_30_days: i64,
    /// Non-deleted appointments.
    pub appointments: i64,
    /// Non-deleted, non-cancelled appointments whose `appointment_at` falls on today (UTC).
    pub appointments_today: i64,
    /// Pharmacies with `is_verified`.
    pub verified_pharmacies: i64,
    /// Pharmacies created in the last 7 × 24 h.
    pub pharmacies_last_7_days: i64,
    /// Notifications with `sent_at` ≥ now − 24 h.
    pub notifications_last_24h: i64,
    /// Deliveries of those notifications.
    pub deliveries_last_24h: i64,
    /// Of those deliveries, the ones with status `sent` or `delivered`.
    pub successful_deliveries_last_24h: i64,
    /// Seven days, oldest first: today − 6 … today (UTC).
    pub chart: Vec<ChartDay>,
}

impl DashboardCounts {
    /// `(total − base) / base × 100`, or 0 when `base` is 0.
    pub fn user_growth_percent(&self) -> f64 {
        percent(
            self.total_users - self.users_before_last_30_days,
            self.users_before_last_30_days,
        )
        .unwrap_or(0.0)
    }

    /// Successful ÷ all deliveries of the last 24 h × 100, or 100 when there were none.
    pub fn delivery_rate_percent(&self) -> f64 {
        percent(
            self.successful_deliveries_last_24h,
            self.deliveries_last_24h,
        )
        .unwrap_or(100.0)
    }
}

/// `part / whole × 100`; `None` when `whole` is 0.
fn percent(part: i64, whole: i64) -> Option<f64> {
    // Counts of rows stay far below 2^53, so the conversions are exact.
    (whole != 0).then(|| part as f64 / whole as f64 * 100.0)
}

/// Midnight UTC of `now`'s UTC calendar day (the start of "today" in the statistics).
pub fn utc_day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The first day of the dashboard chart: midnight UTC six days before today.
pub fn chart_start(now: DateTime<Utc>) -> DateTime<Utc> {
    utc_day_start(now) - TimeDelta::days(6)
}

/// Computes the admin statistics from the system of record.
pub trait AdminStatsReader: Send + Sync + 'static {
    /// The counts of `GET /admin/metrics` at `now`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn metrics(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<AdminMetrics, PortError>> + Send;

    /// The counts of `GET /admin/dashboard/stats` at `now`, the chart covering [`chart_start`] …
    /// today.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn dashboard(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<DashboardCounts, PortError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn counts() -> DashboardCounts {
        DashboardCounts {
            total_users: 0,
            users_before_last_30_days: 0,
            appointments: 0,
            appointments_today: 0,
            verified_pharmacies: 0,
            pharmacies_last_7_days: 0,
            notifications_last_24h: 0,
            deliveries_last_24h: 0,
            successful_deliveries_last_24h: 0,
            chart: Vec::new(),
        }
    }

    #[test]
    fn growth_is_relative_to_the_users_of_a_month_ago_and_zero_without_any() {
        let mut c = counts();
        assert_eq!(c.user_growth_percent(), 0.0);
        c.total_users = 1520;
        assert_eq!(c.user_growth_percent(), 0.0);
        c.users_before_last_30_days = 1000;
        assert!((c.user_growth_percent() - 52.0).abs() < 1e-9);
    }

    #[test]
    fn the_delivery_rate_is_a_full_hundred_without_deliveries() {
        let mut c = counts();
        assert_eq!(c.delivery_rate_percent(), 100.0);
        c.deliveries_last_24h = 40;
        c.successful_deliveries_last_24h = 39;
        assert!((c.delivery_rate_percent() - 97.5).abs() < 1e-9);
    }

    #[test]
    fn today_starts_at_utc_midnight_and_the_chart_six_days_earlier() {
        let now = Utc.with_ymd_and_hms(2026, 2, 15, 23, 59, 59).unwrap();
        assert_eq!(
            utc_day_start(now),
            Utc.with_ymd_and_hms(2026, 2, 15, 0, 0, 0).unwrap()
        );
        assert_eq!(
            chart_start(now),
            Utc.with_ymd_and_hms(2026, 2, 9, 0, 0, 0).unwrap()
        );
    }
}
