-- Every stored instant and date stays within years 0001-9999 (instants in UTC), the range the
-- API accepts and can write back in its four-digit-year form. The API already refuses anything
-- else with 422; these checks hold the same line for rows written around it (imports, operator
-- SQL). NOT VALID: no table scan and no lock beyond a brief one per table; rows stored earlier
-- are left alone (the API writes any of them back clamped to the nearest end of the range) until
-- an operator repairs them and runs ALTER TABLE ... VALIDATE CONSTRAINT.
-- One constraint per column, named <table>_<column>_in_range; a test checks that every
-- timestamptz and date column of the schema carries one, so a new column cannot forget it.
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.table_name, c.column_name, c.data_type
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public'
          AND t.table_type = 'BASE TABLE'
          AND c.data_type IN ('timestamp with time zone', 'date')
        ORDER BY c.table_name, c.column_name
    LOOP
        EXECUTE format(
            'ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %L AND %I < %L) NOT VALID',
            col.table_name,
            col.table_name || '_' || col.column_name || '_in_range',
            col.column_name,
            CASE WHEN col.data_type = 'date' THEN '0001-01-01' ELSE '0001-01-01 00:00:00+00' END,
            col.column_name,
            CASE WHEN col.data_type = 'date' THEN '10000-01-01' ELSE '10000-01-01 00:00:00+00' END
        );
    END LOOP;
END
$$;
