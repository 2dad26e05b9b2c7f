-- Drops the year-range checks the up migration added (named <table>_<column>_in_range).
DO $$
DECLARE
    constraint_row record;
BEGIN
    FOR constraint_row IN
        SELECT rel.relname AS table_name, con.conname
        FROM pg_constraint con
        JOIN pg_class rel ON rel.oid = con.conrelid
        JOIN pg_namespace ns ON ns.oid = rel.relnamespace
        WHERE ns.nspname = 'public' AND con.contype = 'c' AND con.conname LIKE '%\_in\_range'
    LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', constraint_row.table_name, constraint_row.conname);
    END LOOP;
END
$$;
