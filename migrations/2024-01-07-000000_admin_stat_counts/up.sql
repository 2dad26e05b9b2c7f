-- Admin statistics maintained by the database as rows change, so reading them costs the same
-- whatever the size of the tables, and rows written around the API (imports, operator SQL) are
-- counted like any other.
--
-- Shape:
--   admin_stat_sources  which (metric, hour) keys each counted row contributes, one SELECT per
--                       table; the triggers and the rebuild are generated from it, so the two
--                       cannot disagree about what a row counts for.
--   admin_stat_deltas   append-only: every INSERT/UPDATE/DELETE statement on a counted table
--                       adds its net change per key here, in the writer's own transaction.
--                       Writers never update a shared row, so concurrent bookings never wait on
--                       each other (or deadlock) because of the counters.
--   admin_stat_totals   counts without time (users by role and state, appointments by status,
--   admin_stat_hours    pharmacies by flags) and counts per UTC hour of a timestamp (creation,
--                       appointment time, sending time); admin_stats_compact() folds the deltas
--                       into them every second or so. A reader sums the folded value and the
--                       pending deltas in one statement (one snapshot), so a fold is invisible.
--
-- A metric name is "<table>.<key...>"; the hour is NULL for counts without time.

CREATE TABLE admin_stat_sources (
    table_name text PRIMARY KEY,
    -- A SELECT of (metric text, hour timestamptz) with %1$I standing for the rows.
    keys_sql text NOT NULL
);

CREATE TABLE admin_stat_totals (
    metric text PRIMARY KEY,
    n bigint NOT NULL
);

CREATE TABLE admin_stat_hours (
    metric text NOT NULL,
    hour timestamptz NOT NULL,
    n bigint NOT NULL,
    CONSTRAINT admin_stat_hours_pkey PRIMARY KEY (metric, hour),
    CONSTRAINT admin_stat_hours_hour_in_range CHECK (hour >= '0001-01-01 00:00:00+00' AND hour < '10000-01-01 00:00:00+00')
);

-- Rows live for about a second; vacuum it often so its scans stay short.
CREATE TABLE admin_stat_deltas (
    metric text NOT NULL,
    hour timestamptz,
    n bigint NOT NULL,
    CONSTRAINT admin_stat_deltas_hour_in_range CHECK (hour >= '0001-01-01 00:00:00+00' AND hour < '10000-01-01 00:00:00+00')
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000);

-- The UTC hour of an instant (date_bin does not depend on the session time zone, unlike
-- date_trunc on timestamptz), kept inside the range every stored instant must respect.
CREATE FUNCTION admin_stat_hour(instant timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT least(greatest(date_bin(interval '1 hour', instant, timestamptz '2000-01-01 00:00:00+00'),
                          timestamptz '0001-01-01 00:00:00+00'),
                 timestamptz '9999-12-31 23:00:00+00')
$$;

INSERT INTO admin_stat_sources (table_name, keys_sql) VALUES
('users', $k$
    SELECT 'users.' || r.role || '.' || CASE WHEN r.is_active THEN 'active' ELSE 'inactive' END, NULL::timestamptz FROM %1$I r
    UNION ALL SELECT 'users.created', admin_stat_hour(r.created_at) FROM %1$I r
$k$),
('appointments', $k$
    SELECT 'appointments.' || r.status, NULL::timestamptz FROM %1$I r WHERE r.deleted_at IS NULL
    UNION ALL SELECT 'appointments.created', admin_stat_hour(r.created_at) FROM %1$I r WHERE r.deleted_at IS NULL
    UNION ALL SELECT 'appointments.booked', admin_stat_hour(r.appointment_at) FROM %1$I r
              WHERE r.deleted_at IS NULL AND r.status <> 'cancelled'
$k$),
('pharmacies', $k$
    SELECT 'pharmacies.' || CASE WHEN r.is_verified THEN 'verified' ELSE 'unverified' END
                  || '.' || CASE WHEN r.is_active THEN 'active' ELSE 'inactive' END, NULL::timestamptz FROM %1$I r
    UNION ALL SELECT 'pharmacies.created', admin_stat_hour(r.created_at) FROM %1$I r
$k$),
('notifications', $k$
    SELECT 'notifications.sent', admin_stat_hour(r.sent_at) FROM %1$I r WHERE r.sent_at IS NOT NULL
$k$);

-- One trigger function per counted table, generated from its keys with static SQL (plans are
-- cached per connection; dynamic SQL would be planned on every write).
DO $do$
DECLARE
    source record;
BEGIN
    FOR source IN SELECT table_name, keys_sql FROM admin_stat_sources LOOP
        EXECUTE format($f$
            CREATE FUNCTION %1$I() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO admin_stat_deltas (metric, hour, n)
                    SELECT k.metric, k.hour, count(*) FROM (%2$s) AS k(metric, hour) GROUP BY 1, 2;
                ELSIF TG_OP = 'DELETE' THEN
                    INSERT INTO admin_stat_deltas (metric, hour, n)
                    SELECT k.metric, k.hour, -count(*) FROM (%3$s) AS k(metric, hour) GROUP BY 1, 2;
                ELSIF TG_OP = 'UPDATE' THEN
                    -- Only keys whose count changed: an update of other columns adds nothing.
                    INSERT INTO admin_stat_deltas (metric, hour, n)
                    SELECT k.metric, k.hour, sum(k.n) FROM (
                        SELECT o.metric, o.hour, -1 AS n FROM (%3$s) AS o(metric, hour)
                        UNION ALL
                        SELECT w.metric, w.hour, 1 AS n FROM (%2$s) AS w(metric, hour)
                    ) AS k GROUP BY 1, 2 HAVING sum(k.n) <> 0;
                ELSIF TG_OP = 'TRUNCATE' THEN
                    -- TRUNCATE fires no row or statement DELETE trigger; the table is empty now.
                    DELETE FROM admin_stat_deltas WHERE metric LIKE %4$L;
                    DELETE FROM admin_stat_totals WHERE metric LIKE %4$L;
                    DELETE FROM admin_stat_hours WHERE metric LIKE %4$L;
                END IF;
                RETURN NULL;
            END
            $body$$f$,
            'admin_stats_' || source.table_name,
            format(source.keys_sql, 'new_rows'),
            format(source.keys_sql, 'old_rows'),
            source.table_name || '.%');
        EXECUTE format('CREATE TRIGGER admin_stats_insert AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %2$I()',
                       source.table_name, 'admin_stats_' || source.table_name);
        EXECUTE format('CREATE TRIGGER admin_stats_update AFTER UPDATE ON %1$I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %2$I()',
                       source.table_name, 'admin_stats_' || source.table_name);
        EXECUTE format('CREATE TRIGGER admin_stats_delete AFTER DELETE ON %1$I REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION %2$I()',
                       source.table_name, 'admin_stats_' || source.table_name);
        EXECUTE format('CREATE TRIGGER admin_stats_truncate AFTER TRUNCATE ON %1$I FOR EACH STATEMENT EXECUTE FUNCTION %2$I()',
                       source.table_name, 'admin_stats_' || source.table_name);
    END LOOP;
END
$do$;

-- Folds the pending deltas into the totals and hours; returns how many delta rows it folded.
-- One caller at a time (the others return 0 at once): the API replicas all call it.
CREATE FUNCTION admin_stats_compact() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('medico24.admin_stats_compact')) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM admin_stat_deltas RETURNING metric, hour, n
    ), sums AS (
        SELECT metric, hour, sum(n) AS n, count(*) AS rows FROM gone GROUP BY metric, hour
    ), totals AS (
        INSERT INTO admin_stat_totals (metric, n)
        SELECT metric, n FROM sums WHERE hour IS NULL
        ON CONFLICT (metric) DO UPDATE SET n = admin_stat_totals.n + excluded.n
    ), hours AS (
        INSERT INTO admin_stat_hours (metric, hour, n)
        SELECT metric, hour, n FROM sums WHERE hour IS NOT NULL
        ON CONFLICT (metric, hour) DO UPDATE SET n = admin_stat_hours.n + excluded.n
    )
    SELECT coalesce(sum(rows), 0) INTO folded FROM sums;
    RETURN folded;
END
$$;

-- Recounts everything from the tables (writes to them wait meanwhile): the initial fill
-- below, and the operator's repair after writes that bypassed triggers
-- (session_replication_role = replica, disabled triggers).
CREATE FUNCTION admin_stats_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    source record;
BEGIN
    LOCK TABLE users, appointments, pharmacies, notifications IN SHARE MODE;
    PERFORM pg_advisory_xact_lock(hashtext('medico24.admin_stats_compact'));
    DELETE FROM admin_stat_deltas;
    DELETE FROM admin_stat_totals;
    DELETE FROM admin_stat_hours;
    FOR source IN SELECT table_name, keys_sql FROM admin_stat_sources LOOP
        EXECUTE format(
            'INSERT INTO admin_stat_totals (metric, n)
             SELECT k.metric, count(*) FROM (%s) AS k(metric, hour) WHERE k.hour IS NULL GROUP BY 1',
            format(source.keys_sql, source.table_name));
        EXECUTE format(
            'INSERT INTO admin_stat_hours (metric, hour, n)
             SELECT k.metric, k.hour, count(*) FROM (%s) AS k(metric, hour) WHERE k.hour IS NOT NULL GROUP BY 1, 2',
            format(source.keys_sql, source.table_name));
    END LOOP;
END
$$;

SELECT admin_stats_rebuild();

-- The window edges (rows in the part of an hour a rolling window cuts) are counted from the
-- tables themselves, through an index on the timestamp: notifications.sent_at and
-- users (created_at, id) (the admin listing's) have one; pharmacies get theirs here.
CREATE INDEX idx_pharmacies_created_at ON pharmacies (created_at);
