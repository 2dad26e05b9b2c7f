//! `AdminStatsReader` on PostgreSQL: the admin console's counts (§16.4, §16.5) computed by SQL
//! aggregates (`count(*) FILTER`, `GROUP BY`, `generate_series`), so no row is ever loaded into
//! memory. Raw SQL because the builder cannot express `FILTER`, `date_bin` or set-returning
//! functions; every time boundary is computed in Rust and bound as a parameter, so the session
//! time zone never matters.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::RunQueryDsl;
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

/// One row of every §16.5 count. Parameters: `$1` today 00:00 UTC, `$2` now − 7 d, `$3` now − 30 d.
const METRICS_SQL: &str = "\
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

/// One row of the §16.4 counts. Parameters: `$1` now − 30 d, `$2` today 00:00 UTC, `$3` now − 7 d,
/// `$4` now − 24 h.
const DASHBOARD_SQL: &str = "\
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

/// Seven rows, one per UTC day from `$1` (today − 6, 00:00 UTC), oldest first. Days are
/// `24 hours` apart (not `1 day`, whose length follows the session time zone), and rows are
/// binned with `date_bin` anchored at `$1`.
const CHART_SQL: &str = "\
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

#[derive(QueryableByName)]
struct ChartRow {
    #[diesel(sql_type = Timestamptz)]
    day: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    appointments: i64,
    #[diesel(sql_type = BigInt)]
    pharmacies: i64,
}

impl AdminStatsReader for PgAdminStats {
    async fn metrics(&self, now: DateTime<Utc>) -> Result<AdminMetrics, PortError> {
        let mut conn = self.db.read_conn().await?;
        let row: MetricsRow = diesel::sql_query(METRICS_SQL)
            .bind::<Timestamptz, _>(utc_day_start(now))
            .bind::<Timestamptz, _>(now - TimeDelta::days(7))
            .bind::<Timestamptz, _>(now - TimeDelta::days(30))
            .get_result(&mut conn)
            .await
            .map_err(port)?;
        Ok(AdminMetrics {
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
        })
    }

    async fn dashboard(&self, now: DateTime<Utc>) -> Result<DashboardCounts, PortError> {
        let mut conn = self.db.conn().await?;
        let row: DashboardRow = diesel::sql_query(DASHBOARD_SQL)
            .bind::<Timestamptz, _>(now - TimeDelta::days(30))
            .bind::<Timestamptz, _>(utc_day_start(now))
            .bind::<Timestamptz, _>(now - TimeDelta::days(7))
            .bind::<Timestamptz, _>(now - TimeDelta::hours(24))
            .get_result(&mut conn)
            .await
            .map_err(port)?;
        let chart: Vec<ChartRow> = diesel::sql_query(CHART_SQL)
            .bind::<Timestamptz, _>(chart_start(now))
            .load(&mut conn)
            .await
            .map_err(port)?;
        Ok(DashboardCounts {
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
        })
    }
}
