-- Removes the maintained admin statistics (triggers, functions, tables, edge indexes).
DROP INDEX IF EXISTS idx_pharmacies_created_at;
DO $$
DECLARE
    source record;
BEGIN
    FOR source IN SELECT table_name FROM admin_stat_sources LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS admin_stats_insert ON %I', source.table_name);
        EXECUTE format('DROP TRIGGER IF EXISTS admin_stats_update ON %I', source.table_name);
        EXECUTE format('DROP TRIGGER IF EXISTS admin_stats_delete ON %I', source.table_name);
        EXECUTE format('DROP TRIGGER IF EXISTS admin_stats_truncate ON %I', source.table_name);
        EXECUTE format('DROP FUNCTION IF EXISTS %I()', 'admin_stats_' || source.table_name);
    END LOOP;
END
$$;
DROP FUNCTION admin_stats_rebuild();
DROP FUNCTION admin_stats_compact();
DROP FUNCTION admin_stat_hour(timestamptz);
DROP TABLE admin_stat_deltas;
DROP TABLE admin_stat_hours;
DROP TABLE admin_stat_totals;
DROP TABLE admin_stat_sources;
