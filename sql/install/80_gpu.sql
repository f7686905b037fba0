------------------------------------------------------------------------------
-- GPU search (src/worker/gpu.c, gpusql.c, gpustore.c; gpu/; src/worker/README)
------------------------------------------------------------------------------

-- One row per loaded collection (a gvector column of a table).  version
-- changes, to a new value of gpu_version_seq, with every statement that
-- changes the table (the trigger gv_gpu_refresh); a search whose snapshot
-- sees another version than the resident copy's reloads it first.
CREATE SEQUENCE gigavector.gpu_version_seq;
CREATE TABLE gigavector.gpu_collections (
	relid oid NOT NULL,
	attnum int2 NOT NULL,
	column_name name NOT NULL,
	id_column name NOT NULL,
	use_float16 boolean NOT NULL DEFAULT false,
	version bigint NOT NULL,
	loaded_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (relid, attnum)
);
COMMENT ON TABLE gigavector.gpu_collections IS 'collections loaded for GPU search (gigavector.gpu_load)';

-- Everyone may read which columns are loaded; only a table's owner may
-- load or unload it (gpu_load and gpu_unload run as their caller).
ALTER TABLE gigavector.gpu_collections ENABLE ROW LEVEL SECURITY;
CREATE POLICY gpu_collections_read ON gigavector.gpu_collections FOR SELECT USING (true);
CREATE POLICY gpu_collections_insert ON gigavector.gpu_collections FOR INSERT
	WITH CHECK (pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = relid), 'USAGE'));
CREATE POLICY gpu_collections_update ON gigavector.gpu_collections FOR UPDATE
	USING (pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = relid), 'USAGE'));
CREATE POLICY gpu_collections_delete ON gigavector.gpu_collections FOR DELETE
	USING (pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = relid), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON gigavector.gpu_collections TO PUBLIC;
GRANT USAGE ON SEQUENCE gigavector.gpu_version_seq TO PUBLIC;

-- The trigger of a loaded table: a new version for its collections.  As
-- the extension's owner, so that any writer of the table may bump it
-- (the owner-only policies above do not bind the extension's owner).
CREATE FUNCTION gigavector.gpu_refresh() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE gigavector.gpu_collections SET version = nextval('gigavector.gpu_version_seq')
		WHERE relid = TG_RELID;
	RETURN NULL;
END $$;

CREATE FUNCTION gigavector.gpu_push(tbl regclass, column_name name) RETURNS bigint
	AS 'MODULE_PATHNAME', 'gv_gpu_push' LANGUAGE C STRICT VOLATILE;
CREATE FUNCTION gigavector.gpu_evict(tbl oid, attnum int2) RETURNS void
	AS 'MODULE_PATHNAME', 'gv_gpu_evict' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.gpu_push(regclass, name) IS 'scan a loaded column again and replace its resident copy (gpu_load calls it; needs SELECT)';
COMMENT ON FUNCTION gigavector.gpu_evict(oid, int2) IS 'free the resident copy of a column (gpu_unload calls it; owner only)';

-- Load a gvector column for GPU search; returns the rows loaded.  The table
-- needs a one-column integer primary key (the ids searches return) and no
-- row-level security (the resident copy is shared by every reader).
CREATE FUNCTION gigavector.gpu_load(tbl regclass, column_name name, use_float16 boolean DEFAULT false)
	RETURNS bigint
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	att record;
	pk name;
	pk_type oid;
	npk int;
BEGIN
	SELECT a.attnum, a.atttypid INTO att FROM pg_attribute a
		WHERE a.attrelid = tbl AND a.attname = column_name AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation "%" does not exist', column_name, tbl
			USING ERRCODE = 'undefined_column';
	END IF;
	IF (SELECT t.typname FROM pg_type t WHERE t.oid = att.atttypid) <> 'gvector' THEN
		RAISE EXCEPTION 'column "%" of relation "%" is not a gvector', column_name, tbl
			USING ERRCODE = 'datatype_mismatch', HINT = 'GPU search works on gvector columns.';
	END IF;
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF (SELECT relrowsecurity FROM pg_class WHERE oid = tbl) THEN
		RAISE EXCEPTION 'table "%" has row-level security', tbl
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'A loaded collection is shared by every reader; GPU search cannot apply policies.';
	END IF;
	SELECT count(*), min(a.attname), min(a.atttypid) INTO npk, pk, pk_type
		FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = tbl AND i.indisprimary;
	IF npk <> 1 OR pk_type NOT IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN
		RAISE EXCEPTION 'table "%" has no one-column integer primary key', tbl
			USING ERRCODE = 'invalid_table_definition',
				  HINT = 'GPU search returns the primary key as the id of each hit.';
	END IF;
	INSERT INTO gigavector.gpu_collections (relid, attnum, column_name, id_column, use_float16, version)
		VALUES (tbl, att.attnum, column_name, pk, use_float16, nextval('gigavector.gpu_version_seq'))
		ON CONFLICT (relid, attnum) DO UPDATE
		SET use_float16 = EXCLUDED.use_float16, version = EXCLUDED.version, loaded_at = now();
	IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'gv_gpu_refresh') THEN
		EXECUTE format('CREATE TRIGGER gv_gpu_refresh AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION gigavector.gpu_refresh()', tbl);
	END IF;
	RETURN gigavector.gpu_push(tbl, column_name);
END $$;
COMMENT ON FUNCTION gigavector.gpu_load(regclass, name, boolean) IS 'load a gvector column for GPU search (kept fresh on change)';

-- Forget a loaded column: the resident copy is freed, the trigger dropped
-- with the table's last loaded column.  False if it was not loaded.
CREATE FUNCTION gigavector.gpu_unload(tbl regclass, column_name name) RETURNS boolean
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n int2;
BEGIN
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	DELETE FROM gigavector.gpu_collections c WHERE c.relid = tbl AND c.column_name = gpu_unload.column_name
		RETURNING attnum INTO n;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM gigavector.gpu_evict(tbl, n);
	IF NOT EXISTS (SELECT 1 FROM gigavector.gpu_collections WHERE relid = tbl) THEN
		EXECUTE format('DROP TRIGGER IF EXISTS gv_gpu_refresh ON %s', tbl);
	END IF;
	RETURN true;
END $$;
COMMENT ON FUNCTION gigavector.gpu_unload(regclass, name) IS 'stop GPU search on a gvector column and free its resident copy';

-- The k nearest rows of a loaded column, exactly (fp32; fp16 when loaded so).
CREATE FUNCTION gigavector.gpu_search(tbl regclass, column_name name, query gvector, k int,
									  distance text DEFAULT 'l2')
	RETURNS TABLE (id bigint, distance float8)
	AS 'MODULE_PATHNAME', 'gv_gpu_search' LANGUAGE C STRICT VOLATILE ROWS 10;
COMMENT ON FUNCTION gigavector.gpu_search(regclass, name, gvector, int, text) IS 'k nearest rows of a loaded column: l2, cosine or ip';

CREATE FUNCTION gigavector.gpu_search_batch(tbl regclass, column_name name, queries gvector[], k int,
									  distance text DEFAULT 'l2')
	RETURNS TABLE (query_no int, id bigint, distance float8)
	AS 'MODULE_PATHNAME', 'gv_gpu_search_batch' LANGUAGE C STRICT VOLATILE ROWS 100;
COMMENT ON FUNCTION gigavector.gpu_search_batch(regclass, name, gvector[], int, text) IS 'k nearest rows of a loaded column for each query of a batch (query_no from 1)';

CREATE FUNCTION gigavector.gpu_available() RETURNS boolean
	AS 'MODULE_PATHNAME', 'gv_gpu_available' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.gpu_available() IS 'whether the GPU worker runs on a CUDA device';
CREATE FUNCTION gigavector.gpu_device_count() RETURNS int
	AS 'MODULE_PATHNAME', 'gv_gpu_device_count' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.gpu_device_count() IS 'CUDA devices the GPU worker found (0 without one)';
CREATE FUNCTION gigavector.gpu_device_info(device int,
		OUT name text, OUT total_memory bigint, OUT free_memory bigint, OUT compute_capability text)
	AS 'MODULE_PATHNAME', 'gv_gpu_device_info' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.gpu_device_info(int) IS 'a CUDA device: name, memory in bytes, compute capability';

COMMENT ON FUNCTION gigavector.gpu_refresh() IS 'trigger of loaded tables: a new version of their GPU collections';

CREATE FUNCTION gigavector.gpu_status_rows(OUT relid oid, OUT attnum int2, OUT vectors bigint,
		OUT dimensions int, OUT bytes bigint, OUT queries_served bigint, OUT version bigint,
		OUT backend text, OUT process text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'gv_gpu_status_rows' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.gpu_status_rows() IS 'resident GPU collections of this database (the rows of gigavector.gpu_status)';

-- Every loaded collection of this database; vectors etc. are NULL while
-- it is not resident (after a worker restart: the next search reloads it).
CREATE VIEW gigavector.gpu_status AS
	SELECT c.relid::regclass AS tbl, c.column_name, c.use_float16,
		   s.vectors, s.dimensions, s.bytes, s.queries_served,
		   coalesce(s.version = c.version, false) AS current,
		   s.backend, s.process
	FROM gigavector.gpu_collections c
	LEFT JOIN gigavector.gpu_status_rows() s ON s.relid = c.relid AND s.attnum = c.attnum;
COMMENT ON VIEW gigavector.gpu_status IS 'collections loaded for GPU search: size, queries served, backend (cuda or cpu)';
GRANT SELECT ON gigavector.gpu_status TO PUBLIC;
