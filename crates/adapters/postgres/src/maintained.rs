//! Exact row counts read from the statistics the database maintains as rows change (folded totals
//! in `admin_stat_totals` plus the pending deltas in `admin_stat_deltas`), for listings whose
//! filters select whole maintained keys: such a count costs the same at any table size, where
//! `count(*)` reads every matching index entry.

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::RunQueryDsl;

use crate::conn::PgConn;

/// Folded and pending values in one statement, so one snapshot: a concurrent fold (which moves
/// deltas into the totals in one transaction) neither hides nor doubles a delta, and a writer's
/// rows and deltas become visible together when it commits.
const MAINTAINED_TOTAL_SQL: &str = "\
SELECT (coalesce((SELECT sum(n) FROM admin_stat_totals WHERE metric = ANY($1)), 0)
      + coalesce((SELECT sum(n) FROM admin_stat_deltas WHERE hour IS NULL AND metric = ANY($1)), 0))::int8 AS n";

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The number of rows counted under `metrics` (maintained keys without time, e.g.
/// `users.doctor.active`, `appointments.scheduled`).
pub(crate) async fn maintained_total(
    conn: &mut PgConn,
    metrics: &[String],
) -> diesel::QueryResult<i64> {
    diesel::sql_query(MAINTAINED_TOTAL_SQL)
        .bind::<Array<Text>, _>(metrics)
        .get_result::<Total>(conn)
        .await
        .map(|total| total.n)
}
