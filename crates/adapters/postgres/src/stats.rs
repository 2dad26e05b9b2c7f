//! `AdminStatsReader` on PostgreSQL: the admin console's counts read from statistics the
//! database maintains as rows change (migration `admin_stat_counts`: statement triggers append
//! per-key deltas, [`PgAdminStats::compact`] folds them into totals and per-UTC-hour counts), so
//! a read costs the same at 50 thousand rows as at 5 million. Rolling windows (the last 7 or 30
//! days from now) sum whole hours from the maintained counts and count the part of an hour the
//! window cuts from the table itself, through an index.
//!
//! The full-scan queries the maintained state replaced are kept as the recount
//! ([`PgAdminStats::recount_metrics`], [`PgAdminStats::recount_dashboard`]): the oracle of the
//! tests and of the operator's `stats-check`. Raw SQL because the builder cannot express
//! `FILTER`, `date_bin` or set-returning functions; every time boundary is computed in Rust and
//! bound as a parameter, so the session time zone never matters.

use std::sync::LazyLock;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Untyped;
use diesel::sql_types::{Array, BigInt, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_kernel::PortError;
use medico24_kernel::stats::{
    AdminMetrics, AdminStatsReader, AppointmentCounts, ChartDay, DashboardCounts,
    NotificationCounts, PharmacyCounts, UserCounts, chart_start, utc_day_start,
};

use crate::database::{Database, DatabaseError};

/// PostgreSQL implementation of [`AdminStatsReader`]; read-only.
#[derive(Debug, Clone)]
pub struct PgAdminStats {
    db: Database,
}

impl PgAdminStats {
    /// A reader over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn port(error: diesel::result::Error) -> PortError {
    DatabaseError::Query(error).into()
}

/// The recount of every `GET /admin/metrics` count from the tables. Parameters: `$1` today 00:00 UTC,
/// `$2` now − 7 d, `$3` now − 30 d.
const RECOUNT_METRICS_SQL: &str = "\
SELECT u.users_total, u.users_active, u.users_patient, u.users_doctor, u.users_pharmacy, u.users_admin,
       a.appointments_total, a.appointments_scheduled, a.appointments_confirmed,
       a.appointments_rescheduled, a.appointments_cancelled, a.appointments_completed,
       a.appointments_no_show,
       p.pharmacies_total, p.pharmacies_verified, p.pharmacies_active,
       n.sent_today, n.sent_this_week, n.sent_this_month
FROM (SELECT count(*) AS users_total,
             count(*) FILTER (WHERE is_active) AS users_active,
             count(*) FILTER (WHERE role = 'patient') AS users_patient,
             count(*) FILTER (WHERE role = 'doctor') AS users_doctor,
             count(*) FILTER (WHERE role = 'pharmacy') AS users_pharmacy,
             count(*) FILTER (WHERE role = 'admin') AS users_admin
      FROM users) u,
     (SELECT count(*) AS appointments_total,
             count(*) FILTER (WHERE status = 'scheduled') AS appointments_scheduled,
             count(*) FILTER (WHERE status = 'confirmed') AS appointments_confirmed,
             count(*) FILTER (WHERE status = 'rescheduled') AS appointments_rescheduled,
             count(*) FILTER (WHERE status = 'cancelled') AS appointments_cancelled,
             count(*) FILTER (WHERE status = 'completed') AS appointments_completed,
             count(*) FILTER (WHERE status = 'no_show') AS appointments_no_show
      FROM appointments WHERE deleted_at IS NULL) a,
     (SELECT count(*) AS pharmacies_total,
             count(*) FILTER (WHERE is_verified) AS pharmacies_verified,
             count(*) FILTER (WHERE is_active) AS pharmacies_active
      FROM pharmacies) p,
     (SELECT count(*) FILTER (WHERE sent_at >= $1) AS sent_today,
             count(*) FILTER (WHERE sent_at >= $2) AS sent_this_week,
             count(*) AS sent_this_month
      FROM notifications WHERE sent_at >= $3) n";

#[derive(QueryableByName)]
struct MetricsRow {
    #[diesel(sql_type = BigInt)]
    users_total: i64,
    #[diesel(sql_type = BigInt)]
    users_active: i64,
    #[diesel(sql_type = BigInt)]
    users_patient: i64,
    #[diesel(sql_type = BigInt)]
    users_doctor: i64,
    #[diesel(sql_type = BigInt)]
    users_pharmacy: i64,
    #[diesel(sql_type = BigInt)]
    users_admin: i64,
    #[diesel(sql_type = BigInt)]
    appointments_total: i64,
    #[diesel(sql_type = BigInt)]
    appointments_scheduled: i64,
    #[diesel(sql_type = BigInt)]
    appointments_confirmed: i64,
    #[diesel(sql_type = BigInt)]
    appointments_rescheduled: i64,
    #[diesel(sql_type = BigInt)]
    appointments_cancelled: i64,
    #[diesel(sql_type = BigInt)]
    appointments_completed: i64,
    #[diesel(sql_type = BigInt)]
    appointments_no_show: i64,
    #[diesel(sql_type = BigInt)]
    pharmacies_total: i64,
    #[diesel(sql_type = BigInt)]
    pharmacies_verified: i64,
    #[diesel(sql_type = BigInt)]
    pharmacies_active: i64,
    #[diesel(sql_type = BigInt)]
    sent_today: i64,
    #[diesel(sql_type = BigInt)]
    sent_this_week: i64,
    #[diesel(sql_type = BigInt)]
    sent_this_month: i64,
}

/// The recount of the `GET /admin/dashboard/stats` counts from the tables. Parameters: `$1` now − 30 d, `$2` today
/// 00:00 UTC, `$3` now − 7 d, `$4` now − 24 h.
const RECOUNT_DASHBOARD_SQL: &str = "\
SELECT u.total_users, u.users_before_last_30_days,
       a.appointments, a.appointments_today,
       p.verified_pharmacies, p.pharmacies_last_7_days,
       n.notifications_last_24h,
       d.deliveries_last_24h, d.successful_deliveries_last_24h
FROM (SELECT count(*) AS total_users,
             count(*) FILTER (WHERE created_at < $1) AS users_before_last_30_days
      FROM users) u,
     (SELECT count(*) AS appointments,
             count(*) FILTER (WHERE status <> 'cancelled'
                                AND appointment_at >= $2
                                AND appointment_at < $2 + interval '24 hours') AS appointments_today
      FROM appointments WHERE deleted_at IS NULL) a,
     (SELECT count(*) FILTER (WHERE is_verified) AS verified_pharmacies,
             count(*) FILTER (WHERE created_at >= $3) AS pharmacies_last_7_days
      FROM pharmacies) p,
     (SELECT count(*) AS notifications_last_24h
      FROM notifications WHERE sent_at >= $4) n,
     (SELECT count(*) AS deliveries_last_24h,
             count(*) FILTER (WHERE nd.delivery_status IN ('sent', 'delivered'))
                 AS successful_deliveries_last_24h
      FROM notification_deliveries nd
      JOIN notifications nt ON nt.id = nd.notification_id
      WHERE nt.sent_at >= $4) d";

#[derive(QueryableByName)]
struct DashboardRow {
    #[diesel(sql_type = BigInt)]
    total_users: i64,
    #[diesel(sql_type = BigInt)]
    users_before_last_30_days: i64,
    #[diesel(sql_type = BigInt)]
    appointments: i64,
    #[diesel(sql_type = BigInt)]
    appointments_today: i64,
    #[diesel(sql_type = BigInt)]
    verified_pharmacies: i64,
    #[diesel(sql_type = BigInt)]
    pharmacies_last_7_days: i64,
    #[diesel(sql_type = BigInt)]
    notifications_last_24h: i64,
    #[diesel(sql_type = BigInt)]
    deliveries_last_24h: i64,
    #[diesel(sql_type = BigInt)]
    successful_deliveries_last_24h: i64,
}

/// The recount of the chart: seven rows, one per UTC day from `$1` (today − 6, 00:00 UTC),
/// oldest first. Days are `24 hours` apart (not `1 day`, whose length follows the session time
/// zone), and rows are binned with `date_bin` anchored at `$1`.
const RECOUNT_CHART_SQL: &str = "\
WITH appts AS (
    SELECT date_bin(interval '24 hours', created_at, $1) AS day, count(*) AS n
    FROM appointments
    WHERE deleted_at IS NULL AND created_at >= $1 AND created_at < $1 + interval '168 hours'
    GROUP BY 1),
pharms AS (
    SELECT date_bin(interval '24 hours', created_at, $1) AS day, count(*) AS n
    FROM pharmacies
    WHERE created_at >= $1 AND created_at < $1 + interval '168 hours'
    GROUP BY 1)
SELECT d.day, COALESCE(a.n, 0) AS appointments, COALESCE(p.n, 0) AS pharmacies
FROM generate_series($1, $1 + interval '144 hours', interval '24 hours') AS d(day)
LEFT JOIN appts a ON a.day = d.day
LEFT JOIN pharms p ON p.day = d.day
ORDER BY d.day";

/// The maintained dashboard: the counts and the chart's seven days, oldest first.
#[derive(QueryableByName)]
struct MaintainedDashboardRow {
    #[diesel(embed)]
    counts: DashboardRow,
    #[diesel(sql_type = Array<BigInt>)]
    chart_appointments: Vec<i64>,
    #[diesel(sql_type = Array<BigInt>)]
    chart_pharmacies: Vec<i64>,
}

#[derive(QueryableByName)]
struct ChartRow {
    #[diesel(sql_type = Timestamptz)]
    day: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    appointments: i64,
    #[diesel(sql_type = BigInt)]
    pharmacies: i64,
}

/// Pending deltas and the folded totals, each read once per statement (one snapshot, so a
/// concurrent fold neither hides nor doubles a delta).
const MAINTAINED_CTES: &str = "\
WITH pending AS MATERIALIZED (SELECT metric, hour, n FROM admin_stat_deltas),
totals AS MATERIALIZED (
    SELECT metric, sum(n) AS n FROM (
        SELECT metric, n FROM admin_stat_totals
        UNION ALL SELECT metric, n FROM pending WHERE hour IS NULL) t
    GROUP BY metric)";

/// The sum of the counts without time whose metric matches `pattern` (SQL `LIKE`).
fn total(pattern: &str) -> String {
    format!("(SELECT coalesce(sum(n), 0) FROM totals WHERE metric LIKE '{pattern}')")
}

/// The sum of `metric`'s hour counts from hour `$from_hour` on (folded and pending).
fn hours_since(metric: &str, from_hour: u8) -> String {
    format!(
        "((SELECT coalesce(sum(n), 0) FROM admin_stat_hours WHERE metric = '{metric}' AND hour >= ${from_hour}) \
          + (SELECT coalesce(sum(n), 0) FROM pending WHERE metric = '{metric}' AND hour >= ${from_hour}))"
    )
}

/// Rows of `table` whose `column` lies in [`$from`, `$from_hour`): the part of an hour a rolling
/// window cuts, counted through the column's index.
fn edge(table: &str, column: &str, from: u8, from_hour: u8) -> String {
    format!("(SELECT count(*) FROM {table} WHERE {column} >= ${from} AND {column} < ${from_hour})")
}

/// `metric`'s count in the rolling window [`$from`, ∞): whole hours from `$from_hour` (the first
/// hour boundary at or after `$from`) plus the edge before it.
fn window(metric: &str, table: &str, column: &str, from: u8, from_hour: u8) -> String {
    format!(
        "({} + {})",
        hours_since(metric, from_hour),
        edge(table, column, from, from_hour)
    )
}

/// Every `GET /admin/metrics` count from the maintained statistics. Parameters: `$1` today 00:00 UTC,
/// `$2` now − 7 d, `$3` now − 30 d, `$4` and `$5` the first hour boundaries at or after `$2`
/// and `$3`.
static METRICS_SQL: LazyLock<String> = LazyLock::new(|| {
    let columns = [
        (total("users.%"), "users_total"),
        (total("users.%.active"), "users_active"),
        (total("users.patient.%"), "users_patient"),
        (total("users.doctor.%"), "users_doctor"),
        (total("users.pharmacy.%"), "users_pharmacy"),
        (total("users.admin.%"), "users_admin"),
        (total("appointments.%"), "appointments_total"),
        (total("appointments.scheduled"), "appointments_scheduled"),
        (total("appointments.confirmed"), "appointments_confirmed"),
        (
            total("appointments.rescheduled"),
            "appointments_rescheduled",
        ),
        (total("appointments.cancelled"), "appointments_cancelled"),
        (total("appointments.completed"), "appointments_completed"),
        (total("appointments.no_show"), "appointments_no_show"),
        (total("pharmacies.%"), "pharmacies_total"),
        (total("pharmacies.verified.%"), "pharmacies_verified"),
        (total("pharmacies.%.active"), "pharmacies_active"),
        // Today starts on an hour boundary: no edge.
        (hours_since("notifications.sent", 1), "sent_today"),
        (
            window("notifications.sent", "notifications", "sent_at", 2, 4),
            "sent_this_week",
        ),
        (
            window("notifications.sent", "notifications", "sent_at", 3, 5),
            "sent_this_month",
        ),
    ];
    format!("{MAINTAINED_CTES}\nSELECT {}", select_list(&columns))
});

/// The `GET /admin/dashboard/stats` counts and chart from the maintained statistics, in one
/// statement (one round trip, one snapshot). Parameters: `$1` now − 30 d, `$2` today
/// 00:00 UTC, `$3` now − 7 d, `$4` now − 24 h, `$5`–`$7` the first hour boundaries at or after
/// `$1`, `$3` and `$4`. The chart's days start at `$2` − 6 × 24 h; days are `24 hours` apart
/// (not `1 day`, whose length follows the session time zone). Deliveries are read through the notifications sent in the last 24 hours
/// (their `sent_at` index, then each one's deliveries): a cost that follows the last day's
/// sending, not the size of either table.
static DASHBOARD_SQL: LazyLock<String> = LazyLock::new(|| {
    let users_total = total("users.%");
    let columns = [
        (users_total.clone(), "total_users"),
        (
            format!(
                "{users_total} - {}",
                window("users.created", "users", "created_at", 1, 5)
            ),
            "users_before_last_30_days",
        ),
        (total("appointments.%"), "appointments"),
        (
            "((SELECT coalesce(sum(n), 0) FROM admin_stat_hours WHERE metric = 'appointments.booked' \
                 AND hour >= $2 AND hour < $2 + interval '24 hours') \
              + (SELECT coalesce(sum(n), 0) FROM pending WHERE metric = 'appointments.booked' \
                 AND hour >= $2 AND hour < $2 + interval '24 hours'))"
                .to_owned(),
            "appointments_today",
        ),
        (total("pharmacies.verified.%"), "verified_pharmacies"),
        (
            window("pharmacies.created", "pharmacies", "created_at", 3, 6),
            "pharmacies_last_7_days",
        ),
        (
            window("notifications.sent", "notifications", "sent_at", 4, 7),
            "notifications_last_24h",
        ),
        (
            "(SELECT count(*) FROM notification_deliveries nd \
              JOIN notifications nt ON nt.id = nd.notification_id WHERE nt.sent_at >= $4)"
                .to_owned(),
            "deliveries_last_24h",
        ),
        (
            "(SELECT count(*) FROM notification_deliveries nd \
              JOIN notifications nt ON nt.id = nd.notification_id \
              WHERE nt.sent_at >= $4 AND nd.delivery_status IN ('sent', 'delivered'))"
                .to_owned(),
            "successful_deliveries_last_24h",
        ),
    ];
    format!(
        "{MAINTAINED_CTES},\n{CHART_CTE}\nSELECT {},\n       \
         (SELECT array_agg(appointments ORDER BY day) FROM chart) AS chart_appointments,\n       \
         (SELECT array_agg(pharmacies ORDER BY day) FROM chart) AS chart_pharmacies",
        select_list(&columns)
    )
});

/// `<expr>::bigint AS <name>, …`.
fn select_list(columns: &[(String, &str)]) -> String {
    columns
        .iter()
        .map(|(expression, name)| format!("({expression})::bigint AS {name}"))
        .collect::<Vec<_>>()
        .join(",\n       ")
}

/// The chart's seven days from the maintained hour counts (folded and pending), starting at
/// `$2` − 144 h (today − 6, 00:00 UTC).
const CHART_CTE: &str = "\
counted AS (
    SELECT metric, hour, n FROM admin_stat_hours
    WHERE metric IN ('appointments.created', 'pharmacies.created')
      AND hour >= $2 - interval '144 hours' AND hour < $2 + interval '24 hours'
    UNION ALL
    SELECT metric, hour, n FROM pending
    WHERE metric IN ('appointments.created', 'pharmacies.created')
      AND hour >= $2 - interval '144 hours' AND hour < $2 + interval '24 hours'),
binned AS (
    SELECT date_bin(interval '24 hours', hour, $2) AS day,
           sum(n) FILTER (WHERE metric = 'appointments.created') AS appointments,
           sum(n) FILTER (WHERE metric = 'pharmacies.created') AS pharmacies
    FROM counted GROUP BY 1),
chart AS (
    SELECT d.day, COALESCE(b.appointments, 0)::bigint AS appointments,
           COALESCE(b.pharmacies, 0)::bigint AS pharmacies
    FROM generate_series($2 - interval '144 hours', $2, interval '24 hours') AS d(day)
    LEFT JOIN binned b ON b.day = d.day)";

/// The first hour boundary at or after `instant` (UTC hours: every zone offset in use is whole
/// hours from UTC or not, the boundaries here are UTC's).
fn hour_at_or_after(instant: DateTime<Utc>) -> DateTime<Utc> {
    match instant.duration_trunc(TimeDelta::hours(1)) {
        Ok(start) if start == instant => start,
        Ok(start) => start + TimeDelta::hours(1),
        // Only instants near the ends of chrono's range fail to truncate.
        Err(_) => instant,
    }
}

/// The rolling-window boundaries of one reading.
struct Windows {
    today: DateTime<Utc>,
    week: DateTime<Utc>,
    month: DateTime<Utc>,
    day: DateTime<Utc>,
}

impl Windows {
    fn at(now: DateTime<Utc>) -> Self {
        Self {
            today: utc_day_start(now),
            week: now - TimeDelta::days(7),
            month: now - TimeDelta::days(30),
            day: now - TimeDelta::hours(24),
        }
    }
}

fn into_metrics(row: MetricsRow) -> AdminMetrics {
    AdminMetrics {
        users: UserCounts {
            total: row.users_total,
            active: row.users_active,
            patient: row.users_patient,
            doctor: row.users_doctor,
            pharmacy: row.users_pharmacy,
            admin: row.users_admin,
        },
        appointments: AppointmentCounts {
            total: row.appointments_total,
            scheduled: row.appointments_scheduled,
            confirmed: row.appointments_confirmed,
            rescheduled: row.appointments_rescheduled,
            cancelled: row.appointments_cancelled,
            completed: row.appointments_completed,
            no_show: row.appointments_no_show,
        },
        pharmacies: PharmacyCounts {
            total: row.pharmacies_total,
            verified: row.pharmacies_verified,
            active: row.pharmacies_active,
        },
        notifications: NotificationCounts {
            sent_today: row.sent_today,
            sent_this_week: row.sent_this_week,
            sent_this_month: row.sent_this_month,
        },
    }
}

/// The maintained reading at `now`: its chart arrays hold one count per day from
/// [`chart_start`].
fn into_maintained_dashboard(row: MaintainedDashboardRow, now: DateTime<Utc>) -> DashboardCounts {
    let start = chart_start(now);
    let chart = row
        .chart_appointments
        .into_iter()
        .zip(row.chart_pharmacies)
        .zip(0_i64..)
        .map(|((appointments, pharmacies), day)| ChartRow {
            day: start + TimeDelta::days(day),
            appointments,
            pharmacies,
        })
        .collect();
    into_dashboard(row.counts, chart)
}

fn into_dashboard(row: DashboardRow, chart: Vec<ChartRow>) -> DashboardCounts {
    DashboardCounts {
        total_users: row.total_users,
        users_before_last_30_days: row.users_before_last_30_days,
        appointments: row.appointments,
        appointments_today: row.appointments_today,
        verified_pharmacies: row.verified_pharmacies,
        pharmacies_last_7_days: row.pharmacies_last_7_days,
        notifications_last_24h: row.notifications_last_24h,
        deliveries_last_24h: row.deliveries_last_24h,
        successful_deliveries_last_24h: row.successful_deliveries_last_24h,
        chart: chart
            .into_iter()
            .map(|r| ChartDay {
                date: r.day.date_naive(),
                appointments: r.appointments,
                pharmacies: r.pharmacies,
            })
            .collect(),
    }
}

/// A statement of fixed text whose parameters (`$1`, `$2`, … possibly repeated) are all
/// instants. Unlike `sql_query` text, which Diesel prepares anew on every call, its text is the
/// cache key of a statement prepared once per connection: one round trip per reading and no
/// re-planning of the larger statements here.
struct InstantsQuery {
    sql: &'static str,
    params: Vec<DateTime<Utc>>,
}

impl QueryId for InstantsQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for InstantsQuery {
    type SqlType = Untyped;
}

impl QueryFragment<Pg> for InstantsQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // Each `$n` becomes a bind of the n-th instant (Diesel numbers binds in order, so a
        // repeated `$n` is bound again).
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            if digits == 0 {
                out.push_sql(&rest[..=at]);
                rest = &rest[at + 1..];
                continue;
            }
            out.push_sql(&rest[..at]);
            let index: usize = rest[at + 1..at + 1 + digits]
                .parse()
                .map_err(|_| diesel::result::Error::QueryBuilderError("parameter".into()))?;
            let value = index
                .checked_sub(1)
                .and_then(|i| self.params.get(i))
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!("no value for parameter ${index}").into(),
                    )
                })?;
            out.push_bind_param::<Timestamptz, _>(value)?;
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// [`METRICS_SQL`] with its parameters for the windows `$w`.
macro_rules! maintained_metrics {
    ($w:expr) => {
        InstantsQuery {
            sql: METRICS_SQL.as_str(),
            params: vec![
                $w.today,
                $w.week,
                $w.month,
                hour_at_or_after($w.week),
                hour_at_or_after($w.month),
            ],
        }
    };
}

/// [`DASHBOARD_SQL`] with its parameters for the windows `$w`.
macro_rules! maintained_dashboard {
    ($w:expr) => {
        InstantsQuery {
            sql: DASHBOARD_SQL.as_str(),
            params: vec![
                $w.month,
                $w.today,
                $w.week,
                $w.day,
                hour_at_or_after($w.month),
                hour_at_or_after($w.week),
                hour_at_or_after($w.day),
            ],
        }
    };
}

/// [`RECOUNT_METRICS_SQL`] with its parameters for the windows `$w`.
macro_rules! recount_metrics {
    ($w:expr) => {
        diesel::sql_query(RECOUNT_METRICS_SQL)
            .bind::<Timestamptz, _>($w.today)
            .bind::<Timestamptz, _>($w.week)
            .bind::<Timestamptz, _>($w.month)
    };
}

/// [`RECOUNT_DASHBOARD_SQL`] with its parameters for the windows `$w`.
macro_rules! recount_dashboard {
    ($w:expr) => {
        diesel::sql_query(RECOUNT_DASHBOARD_SQL)
            .bind::<Timestamptz, _>($w.month)
            .bind::<Timestamptz, _>($w.today)
            .bind::<Timestamptz, _>($w.week)
            .bind::<Timestamptz, _>($w.day)
    };
}

#[derive(QueryableByName)]
struct Folded {
    #[diesel(sql_type = BigInt)]
    folded: i64,
}

impl PgAdminStats {
    /// Folds the pending deltas into the maintained totals and hour counts; returns how many
    /// delta rows it folded (0 when another process is folding at that moment). Run every
    /// second or so by a background worker in each replica; readers are correct whether or not
    /// it has run, it only keeps their pending set short.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn compact(&self) -> Result<i64, PortError> {
        let mut conn = self.db.conn().await?;
        let row: Folded = diesel::sql_query("SELECT admin_stats_compact() AS folded")
            .get_result(&mut conn)
            .await
            .map_err(port)?;
        Ok(row.folded)
    }

    /// Recounts the maintained statistics from the tables, replacing them; writes to the counted
    /// tables wait meanwhile. The repair after writes that bypassed the triggers.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn rebuild(&self) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query("SELECT 1 FROM admin_stats_rebuild()")
            .execute(&mut conn)
            .await
            .map_err(port)?;
        Ok(())
    }

    /// The `GET /admin/metrics` counts recounted from the tables (a scan of each): the oracle the maintained
    /// ones are checked against.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn recount_metrics(&self, now: DateTime<Utc>) -> Result<AdminMetrics, PortError> {
        let mut conn = self.db.conn().await?;
        let w = Windows::at(now);
        let row: MetricsRow = recount_metrics!(w)
            .get_result(&mut conn)
            .await
            .map_err(port)?;
        Ok(into_metrics(row))
    }

    /// The `GET /admin/dashboard/stats` counts recounted from the tables.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn recount_dashboard(
        &self,
        now: DateTime<Utc>,
    ) -> Result<DashboardCounts, PortError> {
        let mut conn = self.db.conn().await?;
        let w = Windows::at(now);
        let row: DashboardRow = recount_dashboard!(w)
            .get_result(&mut conn)
            .await
            .map_err(port)?;
        let chart: Vec<ChartRow> = diesel::sql_query(RECOUNT_CHART_SQL)
            .bind::<Timestamptz, _>(chart_start(now))
            .load(&mut conn)
            .await
            .map_err(port)?;
        Ok(into_dashboard(row, chart))
    }

    /// The maintained and the recounted statistics at `now`, read in one snapshot (a repeatable
    /// read transaction), so any difference is drift rather than a write between the readings.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn check(&self, now: DateTime<Utc>) -> Result<StatsCheck, PortError> {
        let mut conn = self.db.conn().await?;
        let check = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                // One snapshot for both readings.
                diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(conn)
                    .await?;
                let w = Windows::at(now);
                let maintained: MetricsRow = maintained_metrics!(w).get_result(conn).await?;
                let maintained_dashboard: MaintainedDashboardRow =
                    maintained_dashboard!(w).get_result(conn).await?;
                let recounted: MetricsRow = recount_metrics!(w).get_result(conn).await?;
                let recounted_dashboard: DashboardRow =
                    recount_dashboard!(w).get_result(conn).await?;
                let recounted_chart: Vec<ChartRow> = diesel::sql_query(RECOUNT_CHART_SQL)
                    .bind::<Timestamptz, _>(chart_start(now))
                    .load(conn)
                    .await?;
                Ok(StatsCheck {
                    maintained: (
                        into_metrics(maintained),
                        into_maintained_dashboard(maintained_dashboard, now),
                    ),
                    recounted: (
                        into_metrics(recounted),
                        into_dashboard(recounted_dashboard, recounted_chart),
                    ),
                })
            })
            .await
            .map_err(port)?;
        Ok(check)
    }
}

/// The maintained and the recounted statistics of one snapshot ([`PgAdminStats::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StatsCheck {
    /// What the admin endpoints answer.
    pub maintained: (AdminMetrics, DashboardCounts),
    /// What a scan of the tables counts.
    pub recounted: (AdminMetrics, DashboardCounts),
}

impl StatsCheck {
    /// Whether the two agree.
    pub fn agrees(&self) -> bool {
        self.maintained == self.recounted
    }
}

impl AdminStatsReader for PgAdminStats {
    async fn metrics(&self, now: DateTime<Utc>) -> Result<AdminMetrics, PortError> {
        let mut conn = self.db.read_conn().await?;
        let row: MetricsRow = maintained_metrics!(Windows::at(now))
            .get_result(&mut conn)
            .await
            .map_err(port)?;
        Ok(into_metrics(row))
    }

    async fn dashboard(&self, now: DateTime<Utc>) -> Result<DashboardCounts, PortError> {
        let mut conn = self.db.conn().await?;
        let row: MaintainedDashboardRow = maintained_dashboard!(Windows::at(now))
            .get_result(&mut conn)
            .await
            .map_err(port)?;
        Ok(into_maintained_dashboard(row, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_first_hour_boundary_at_or_after_an_instant() {
        let on = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        assert_eq!(hour_at_or_after(on), on);
        assert_eq!(
            hour_at_or_after(on + TimeDelta::microseconds(1)),
            on + TimeDelta::hours(1)
        );
        assert_eq!(hour_at_or_after(on - TimeDelta::minutes(59)), on);
    }

    #[test]
    fn instant_parameters_are_bound_in_order_of_appearance_repeats_included() {
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let query = InstantsQuery {
            sql: "SELECT $2 + interval '1 hour' > $1, '$x', $2, $$",
            params: vec![a, b],
        };
        let shown = diesel::debug_query::<Pg, _>(&query).to_string();
        assert!(
            shown.starts_with("SELECT $1 + interval '1 hour' > $2, '$x', $3, $$"),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("binds: [{b:?}, {a:?}, {b:?}]")),
            "{shown}"
        );
        let missing = InstantsQuery {
            sql: "SELECT $3",
            params: vec![a],
        };
        let mut builder = diesel::pg::PgQueryBuilder::default();
        assert!(QueryFragment::<Pg>::to_sql(&missing, &mut builder, &Pg).is_err());
    }

    #[test]
    fn every_maintained_statement_reads_the_pending_deltas() {
        for sql in [METRICS_SQL.as_str(), DASHBOARD_SQL.as_str()] {
            assert!(sql.contains("admin_stat_deltas"), "{sql}");
        }
    }
}
