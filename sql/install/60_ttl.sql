------------------------------------------------------------------------------
-- TTL: rows that expire (src/worker/ttl.c, src/worker/README)
------------------------------------------------------------------------------

-- One row per table with TTL.  The expiry itself lives in the table (a
-- timestamptz column); this records which column, what enable_ttl made (so
-- that disable_ttl undoes exactly that) and the cleanup statistics.  Marked
-- as configuration so pg_dump keeps it; its policies and index are ordinary
-- objects of the user's table and are dumped with it.
CREATE TABLE gigavector.ttl_tables (
	tbl regclass PRIMARY KEY,
	ttl_column name NOT NULL,
	default_ttl interval,
	index_name name,				-- the index enable_ttl made; NULL: an existing one serves
	added_column boolean NOT NULL DEFAULT false,
	set_default boolean NOT NULL DEFAULT false,
	rls_was_enabled boolean NOT NULL DEFAULT false,
	rls_was_forced boolean NOT NULL DEFAULT false,
	rows_deleted bigint NOT NULL DEFAULT 0,
	last_run timestamptz,
	last_error text,
	last_error_at timestamptz
);
COMMENT ON TABLE gigavector.ttl_tables IS 'tables with TTL (gigavector.enable_ttl) and their cleanup statistics';
SELECT pg_catalog.pg_extension_config_dump('gigavector.ttl_tables', '');

-- Everyone may read which tables have TTL (as pg_class tells table names);
-- only a table's owner may register or change it.  The cleanup statistics
-- are written by the extension's C code as the bootstrap superuser.
ALTER TABLE gigavector.ttl_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY ttl_tables_read ON gigavector.ttl_tables FOR SELECT USING (true);
CREATE POLICY ttl_tables_insert ON gigavector.ttl_tables FOR INSERT
	WITH CHECK (pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = tbl), 'USAGE'));
CREATE POLICY ttl_tables_update ON gigavector.ttl_tables FOR UPDATE
	USING (pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = tbl), 'USAGE'));
CREATE POLICY ttl_tables_delete ON gigavector.ttl_tables FOR DELETE
	USING (pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = tbl), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON gigavector.ttl_tables TO PUBLIC;

-- True only while gigavector's own cleanup code runs a statement (a flag in
-- C that SQL cannot set): the expiry policy lets that statement, and only
-- it, see expired rows.
CREATE FUNCTION gigavector.ttl_reaping() RETURNS boolean
	AS 'MODULE_PATHNAME', 'gv_ttl_reaping' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.ttl_reaping() IS 'true while gigavector''s TTL cleanup runs (lets it see expired rows)';

-- enable_ttl's checks, shared with set_ttl: the table must have TTL.
CREATE FUNCTION gigavector.ttl_column_of(tbl regclass) RETURNS name
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	col name;
BEGIN
	SELECT t.ttl_column INTO col FROM gigavector.ttl_tables t WHERE t.tbl = ttl_column_of.tbl;
	IF col IS NULL THEN
		RAISE EXCEPTION 'table % has no TTL', tbl
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Call gigavector.enable_ttl first.';
	END IF;
	RETURN col;
END
$$;

-- A TTL must be positive: a row that is to expire at once is deleted instead.
CREATE FUNCTION gigavector.ttl_check(ttl interval, what text) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF ttl <= interval '0' THEN
		RAISE EXCEPTION '% must be greater than zero, not %', what, ttl
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give a positive interval such as ''1 hour'', or NULL for rows that never expire.';
	END IF;
END
$$;

-- Adds (or adopts) the expiry column, an index on it, the row-level
-- security policies that hide expired rows, and records the table.  Called
-- again with the same column it changes the default TTL.  Runs as the
-- caller: only the table's owner can do this.
CREATE FUNCTION gigavector.enable_ttl(tbl regclass, "column" name DEFAULT 'expires_at',
									  default_ttl interval DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rel record;
	att record;
	old record;
	col name := "column";
	made_column boolean := false;
	index_name name;
	registered boolean;
BEGIN
	IF tbl IS NULL OR col IS NULL THEN
		RAISE EXCEPTION 'table and column must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM gigavector.ttl_check(default_ttl, 'default TTL');
	SELECT c.relkind, c.relowner, c.relrowsecurity, c.relforcerowsecurity INTO rel
		FROM pg_class c WHERE c.oid = tbl;
	IF rel.relkind = 'p' THEN
		RAISE EXCEPTION '% is a partitioned table', tbl
			USING ERRCODE = 'wrong_object_type', HINT = 'Enable TTL on each partition.';
	ELSIF rel.relkind <> 'r' THEN
		RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT pg_has_role(rel.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;

	SELECT * INTO old FROM gigavector.ttl_tables t WHERE t.tbl = enable_ttl.tbl;
	registered := FOUND;
	IF registered AND old.ttl_column <> col THEN
		RAISE EXCEPTION 'TTL is already enabled on % with column %', tbl, old.ttl_column
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Call gigavector.disable_ttl first to change the column.';
	END IF;

	SELECT a.attnum, a.atttypid INTO att FROM pg_attribute a
		WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		EXECUTE format('ALTER TABLE %s ADD COLUMN %I timestamptz', tbl, col);
		made_column := true;
	ELSIF att.atttypid <> 'timestamptz'::regtype THEN
		RAISE EXCEPTION 'column % of % has type %, not timestamp with time zone', col, tbl,
				format_type(att.atttypid, NULL)
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Choose another column name, or convert the column with ALTER TABLE … TYPE timestamptz.';
	END IF;

	IF default_ttl IS NOT NULL THEN
		EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT now() + %L::interval', tbl, col, default_ttl);
	ELSIF registered AND old.set_default THEN
		EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', tbl, col);
	END IF;

	IF registered THEN
		UPDATE gigavector.ttl_tables t SET default_ttl = enable_ttl.default_ttl,
			set_default = enable_ttl.default_ttl IS NOT NULL
			WHERE t.tbl = enable_ttl.tbl;
		RETURN;
	END IF;

	-- an index whose first key is the column: the cleanup finds expired rows through it
	IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
				   JOIN pg_am am ON am.oid = ic.relam
				   WHERE i.indrelid = tbl AND am.amname = 'btree' AND i.indpred IS NULL
					 AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = tbl AND attname = col)) THEN
		EXECUTE format('CREATE INDEX ON %s (%I)', tbl, col);
		SELECT ic.relname INTO index_name FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
			WHERE i.indrelid = tbl
			  AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = tbl AND attname = col)
			ORDER BY ic.oid DESC LIMIT 1;
	END IF;

	-- Expired rows are hidden from everyone the table's policies bind
	-- (forced: the owner too).  A restrictive policy cannot stand alone: a
	-- table without RLS gets a permissive one that passes every row, and a
	-- table with its own policies a permissive one that lets only the
	-- cleanup (gigavector.ttl_reaping) through besides them.
	EXECUTE format('CREATE POLICY gv_ttl_expiry ON %s AS RESTRICTIVE FOR ALL '
				   'USING (%I IS NULL OR %I > now() OR gigavector.ttl_reaping()) WITH CHECK (true)',
				   tbl, col, col);
	IF rel.relrowsecurity THEN
		EXECUTE format('CREATE POLICY gv_ttl_cleanup ON %s FOR ALL USING (gigavector.ttl_reaping())', tbl);
	ELSE
		EXECUTE format('CREATE POLICY gv_ttl_all ON %s FOR ALL USING (true) WITH CHECK (true)', tbl);
	END IF;
	EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', tbl);

	INSERT INTO gigavector.ttl_tables (tbl, ttl_column, default_ttl, index_name, added_column,
									  set_default, rls_was_enabled, rls_was_forced)
		VALUES (tbl, col, default_ttl, index_name, made_column, default_ttl IS NOT NULL,
				rel.relrowsecurity, rel.relforcerowsecurity);
END
$$;
COMMENT ON FUNCTION gigavector.enable_ttl(regclass, name, interval) IS 'give a table rows that expire: a timestamptz column, its index, a policy that hides expired rows';

-- Undoes enable_ttl: the policies, the index and the default it made go,
-- row-level security returns to what it was.  The column and its values
-- stay (drop it yourself if you want).
CREATE FUNCTION gigavector.disable_ttl(tbl regclass) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
BEGIN
	PERFORM gigavector.ttl_column_of(tbl);
	SELECT * INTO t FROM gigavector.ttl_tables x WHERE x.tbl = disable_ttl.tbl;
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	EXECUTE format('DROP POLICY IF EXISTS gv_ttl_expiry ON %s', tbl);
	EXECUTE format('DROP POLICY IF EXISTS %I ON %s',
				   CASE WHEN t.rls_was_enabled THEN 'gv_ttl_cleanup' ELSE 'gv_ttl_all' END, tbl);
	IF NOT t.rls_was_enabled THEN
		EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
	END IF;
	IF NOT t.rls_was_forced THEN
		EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
	END IF;
	IF t.index_name IS NOT NULL THEN
		EXECUTE format('DROP INDEX IF EXISTS %I.%I',
					   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
						WHERE c.oid = tbl), t.index_name);
	END IF;
	IF t.set_default THEN
		EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', tbl, t.ttl_column);
	END IF;
	DELETE FROM gigavector.ttl_tables x WHERE x.tbl = disable_ttl.tbl;
END
$$;
COMMENT ON FUNCTION gigavector.disable_ttl(regclass) IS 'stop expiring rows of a table (the column and its values stay)';

-- Sets one row's TTL from now (NULL: the row never expires) and returns its
-- new expiry.  The row is found by the table's single-column primary key;
-- the caller needs UPDATE on the table and must be able to see the row (an
-- expired row is gone already).  Ids of any type as text.
CREATE FUNCTION gigavector.set_ttl(tbl regclass, id text, ttl interval) RETURNS timestamptz
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	col name := gigavector.ttl_column_of(tbl);
	pk record;
	expiry timestamptz;
	n bigint;
BEGIN
	PERFORM gigavector.ttl_check(ttl, 'TTL');
	IF id IS NULL THEN
		RAISE EXCEPTION 'id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS typ INTO pk
		FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
		WHERE c.conrelid = tbl AND c.contype = 'p' AND cardinality(c.conkey) = 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % has no single-column primary key', tbl
			USING ERRCODE = 'invalid_table_definition',
				  HINT = 'set_ttl finds rows by their primary key; update the TTL column directly instead.';
	END IF;
	EXECUTE format('UPDATE %s SET %I = now() + $2 WHERE %I = CAST($1 AS %s) RETURNING %I',
				   tbl, col, pk.attname, pk.typ, col)
		INTO expiry USING id, ttl;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = 0 THEN
		RAISE EXCEPTION 'no row of % has % = %', tbl, pk.attname, id
			USING ERRCODE = 'no_data_found';
	END IF;
	RETURN expiry;
END
$$;
COMMENT ON FUNCTION gigavector.set_ttl(regclass, text, interval) IS 'make one row expire after an interval from now (NULL: never)';

-- Integer ids without a cast (a quoted literal or text goes to the text form).
CREATE FUNCTION gigavector.set_ttl(tbl regclass, id bigint, ttl interval) RETURNS timestamptz
	LANGUAGE sql
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT gigavector.set_ttl(tbl, id::text, ttl) $$;
COMMENT ON FUNCTION gigavector.set_ttl(regclass, bigint, interval) IS 'make one row expire after an interval from now (NULL: never)';

-- Deletes expired rows now, in batches of gigavector.ttl_batch_size, all in
-- the caller's transaction: of one table, or of every TTL table on which
-- the caller holds SELECT, UPDATE and DELETE (a batch locks its rows with
-- FOR UPDATE SKIP LOCKED, which takes UPDATE).  Returns the number of rows deleted.
CREATE FUNCTION gigavector.ttl_cleanup(tbl regclass DEFAULT NULL) RETURNS bigint
	AS 'MODULE_PATHNAME', 'gv_ttl_cleanup' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION gigavector.ttl_cleanup(regclass) IS 'delete expired rows now (what the TTL worker does on its rounds)';

-- Rows with an expiry, and rows expired but not yet deleted (counted past
-- the expiry policy); NULLs where the caller may not read the table.
CREATE FUNCTION gigavector.ttl_counts(tbl regclass, OUT rows_with_ttl bigint, OUT rows_expired bigint)
	AS 'MODULE_PATHNAME', 'gv_ttl_counts' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION gigavector.ttl_counts(regclass) IS 'rows with a TTL and rows expired but not yet deleted';

CREATE VIEW gigavector.ttl_stats AS
	SELECT t.tbl AS table_name, t.ttl_column, t.default_ttl,
		   c.rows_with_ttl, c.rows_expired, t.rows_deleted,
		   t.last_run, t.last_error, t.last_error_at
	FROM gigavector.ttl_tables t
	CROSS JOIN LATERAL gigavector.ttl_counts(t.tbl) c
	WHERE pg_catalog.has_table_privilege(t.tbl, 'SELECT');
COMMENT ON VIEW gigavector.ttl_stats IS 'per TTL table: rows with a TTL, expired rows not yet deleted, rows deleted so far, last cleanup and last error';
GRANT SELECT ON gigavector.ttl_stats TO PUBLIC;

-- A dropped table leaves no registration behind.
CREATE FUNCTION gigavector.ttl_forget_dropped() RETURNS event_trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	DELETE FROM gigavector.ttl_tables t
		WHERE t.tbl::oid IN (SELECT objid FROM pg_event_trigger_dropped_objects()
							 WHERE classid = 'pg_class'::regclass AND objsubid = 0);
END
$$;
CREATE EVENT TRIGGER gv_ttl_forget_dropped ON sql_drop EXECUTE FUNCTION gigavector.ttl_forget_dropped();
