------------------------------------------------------------------------------
-- Scale-out: sharded collections over postgres_fdw, replica status
------------------------------------------------------------------------------
--
-- A distributed table is a hash-partitioned table whose partitions are
-- postgres_fdw foreign tables, each on a shard server (another PostgreSQL
-- with gigavector).  Inserts and COPY are routed by PostgreSQL's own tuple
-- routing; every query works through the partitions; k-NN and BM25 searches
-- are fanned out to all shards at once by distributed_search and
-- distributed_text_search, over libpq connections kept open per session
-- (src/shard.c); dblink makes and drops the shard tables.
-- postgres_fdw and dblink (contrib) are created on first use, in schema
-- gigavector_remote, not required by the extension.

-- What create_distributed_table must remember that a partitioned table
-- cannot hold: the unique constraints (a partitioned table with foreign
-- partitions can have none; each shard enforces them) and the storage
-- parameters, both applied to every shard table add_shard makes later.
CREATE TABLE gigavector.distributed_tables (
	tbl regclass PRIMARY KEY,
	shard_key name NOT NULL,
	constraints text[] NOT NULL DEFAULT '{}',	-- pg_get_constraintdef() of each
	reloptions text[]
);
COMMENT ON TABLE gigavector.distributed_tables IS 'tables made distributed by gigavector.create_distributed_table';
SELECT pg_catalog.pg_extension_config_dump('gigavector.distributed_tables', '');

-- Shards add_shard replaced: detached foreign tables whose remote tables
-- still hold every row they had, until drop_retired_shards removes them.
CREATE TABLE gigavector.retired_shards (
	shard regclass PRIMARY KEY,
	tbl regclass NOT NULL,
	retired_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE gigavector.retired_shards IS 'shards replaced by gigavector.add_shard, kept until gigavector.drop_retired_shards';
SELECT pg_catalog.pg_extension_config_dump('gigavector.retired_shards', '');

-- Creates postgres_fdw and dblink when missing and returns the search_path
-- that lets a caller name dblink's functions; each caller sets it for
-- itself (its own SET search_path clause undoes it when it returns).
CREATE FUNCTION gigavector.scaleout_prepare() RETURNS text
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- their own schema, not gigavector's: DROP EXTENSION gigavector must not need CASCADE
	IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'postgres_fdw') THEN
		CREATE SCHEMA IF NOT EXISTS gigavector_remote;
		CREATE EXTENSION postgres_fdw SCHEMA gigavector_remote;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'dblink') THEN
		CREATE SCHEMA IF NOT EXISTS gigavector_remote;
		CREATE EXTENSION dblink SCHEMA gigavector_remote;
	END IF;
	RETURN format('pg_catalog, %I, pg_temp', (SELECT n.nspname FROM pg_extension e
		JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'dblink'));
END
$$;

-- The key=value pairs of a libpq connection string, values unquoted.
CREATE FUNCTION gigavector.conninfo_options(conninfo text, OUT key text, OUT value text)
	RETURNS SETOF record
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rest text := btrim(conninfo);
	m text[];
BEGIN
	IF rest ~ '^[a-z]+://' THEN
		RAISE EXCEPTION 'a shard server''s connection string must be key=value pairs, not a URI'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Write it as ''host=... port=... dbname=...''.';
	END IF;
	WHILE rest <> '' LOOP
		m := regexp_match(rest, '^([A-Za-z_]+)\s*=\s*(''((?:[^''\\]|\\.)*)''|[^\s'']+)\s*(.*)$');
		IF m IS NULL THEN
			RAISE EXCEPTION 'invalid connection string "%"', conninfo
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Write key=value pairs separated by spaces, e.g. ''host=10.0.0.2 port=5432 dbname=app''.';
		END IF;
		key := m[1];
		value := CASE WHEN m[3] IS NOT NULL THEN regexp_replace(m[3], '\\(.)', '\1', 'g') ELSE m[2] END;
		RETURN NEXT;
		rest := m[4];
	END LOOP;
END
$$;

-- A postgres_fdw server for a shard, with extensions 'gigavector' so that
-- the distance and BM25 operators are sent to it, async_capable so that
-- scans of several shards run at once, batch_size so that loads send 100
-- rows a round trip, and a user mapping for the caller
-- holding the user and password of the connection string.
CREATE FUNCTION gigavector.add_shard_server(name text, conninfo text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	server_opts text[] := ARRAY[format('extensions %L', 'gigavector'), format('async_capable %L', 'true'),
								format('batch_size %L', '100')];
	user_opts text[] := '{}';
	o record;
BEGIN
	IF name IS NULL OR conninfo IS NULL THEN
		RAISE EXCEPTION 'the name and connection string of a shard server must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF btrim(conninfo) = '' THEN
		RAISE EXCEPTION 'a shard server''s connection string must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name the server, e.g. ''host=10.0.0.2 port=5432 dbname=app''.';
	END IF;
	PERFORM set_config('search_path', gigavector.scaleout_prepare(), true);
	IF EXISTS (SELECT FROM pg_foreign_server WHERE srvname = add_shard_server.name) THEN
		RAISE EXCEPTION 'shard server "%" already exists', name
			USING ERRCODE = 'duplicate_object';
	END IF;
	FOR o IN SELECT * FROM gigavector.conninfo_options(conninfo) LOOP
		IF o.key IN ('user', 'password') THEN
			user_opts := user_opts || format('%I %L', o.key, o.value);
		ELSE
			server_opts := server_opts || format('%I %L', o.key, o.value);
		END IF;
	END LOOP;
	EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER postgres_fdw OPTIONS (%s)',
				   name, array_to_string(server_opts, ', '));
	EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I%s', name,
				   CASE WHEN cardinality(user_opts) > 0
				   THEN format(' OPTIONS (%s)', array_to_string(user_opts, ', ')) ELSE '' END);
END
$$;
COMMENT ON FUNCTION gigavector.add_shard_server(text, text) IS 'a postgres_fdw server (and a user mapping for the caller) for a shard of distributed tables';

-- The shard server: a postgres_fdw server, or a clear error.
CREATE FUNCTION gigavector.shard_server_check(server text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
				   WHERE s.srvname = server AND w.fdwname = 'postgres_fdw') THEN
		RAISE EXCEPTION 'shard server "%" does not exist', server
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add it with gigavector.add_shard_server(name, conninfo).';
	END IF;
END
$$;

-- The CREATE INDEX statements that give the shard table
-- remote_schema.remote_table the indexes of the distributed table tbl (its
-- partitioned indexes, which hold no data themselves).
CREATE FUNCTION gigavector.shard_index_ddl(tbl regclass, remote_schema name, remote_table name)
	RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	target text := format('%I.%I', remote_schema, remote_table);
	ddl text := '';
	idx record;
	prefix text;
BEGIN
	-- pg_get_indexdef: CREATE INDEX name ON ONLY schema.table USING ...; the
	-- shard's index is named by its server (several shard tables may share one)
	FOR idx IN SELECT i.indexrelid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			   WHERE i.indrelid = tbl ORDER BY i.indexrelid LOOP
		prefix := format('CREATE INDEX %I ON ONLY %I.%I USING ', idx.relname,
						 (SELECT n.nspname FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace WHERE r.oid = tbl),
						 (SELECT r.relname FROM pg_class r WHERE r.oid = tbl));
		IF left(pg_get_indexdef(idx.indexrelid), length(prefix)) <> prefix THEN
			RAISE EXCEPTION 'cannot copy index % to the shards', idx.indexrelid::regclass
				USING ERRCODE = 'feature_not_supported',
					  HINT = 'Unique indexes are declared as constraints; other indexes must be plain CREATE INDEX ... USING ...';
		END IF;
		ddl := ddl || format(' CREATE INDEX ON %s USING %s;', target,
							 substr(pg_get_indexdef(idx.indexrelid), length(prefix) + 1));
	END LOOP;
	RETURN ddl;
END
$$;

-- The statements that make a shard table remote_schema.remote_table on a
-- server, like the distributed table tbl: its columns, the unique
-- constraints and storage parameters recorded for it, and its indexes (the
-- partitioned indexes of tbl, which hold no data themselves).
CREATE FUNCTION gigavector.shard_table_ddl(tbl regclass, remote_schema name, remote_table name)
	RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	target text := format('%I.%I', remote_schema, remote_table);
	d gigavector.distributed_tables;
	cols text;
	ddl text;
BEGIN
	SELECT * INTO d FROM gigavector.distributed_tables t WHERE t.tbl = shard_table_ddl.tbl;
	-- a generated column is generated on the shard too (ATTACH PARTITION
	-- requires it, and postgres_fdw leaves it to the shard)
	SELECT string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
							 CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
							 CASE WHEN a.attgenerated = 's' THEN format(' GENERATED ALWAYS AS (%s) STORED',
								(SELECT pg_get_expr(g.adbin, g.adrelid) FROM pg_attrdef g
								 WHERE g.adrelid = a.attrelid AND g.adnum = a.attnum)) ELSE '' END), ', ' ORDER BY a.attnum)
		INTO cols FROM pg_attribute a
		WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped;
	ddl := format('CREATE EXTENSION IF NOT EXISTS gigavector; CREATE SCHEMA IF NOT EXISTS %I; CREATE TABLE %s (%s)%s;',
				  remote_schema, target, cols,
				  CASE WHEN d.reloptions IS NOT NULL
				  THEN format(' WITH (%s)', array_to_string(d.reloptions, ', ')) ELSE '' END);
	ddl := ddl || coalesce((SELECT string_agg(format(' ALTER TABLE %s ALTER COLUMN %I SET STORAGE %s;', target, a.attname,
		CASE a.attstorage WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END), '')
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped AND a.attstorage <> t.typstorage), '');
	ddl := ddl || coalesce((SELECT string_agg(format(' ALTER TABLE %s ADD %s;', target, c), '')
		FROM unnest(d.constraints) c), '');
	RETURN ddl || gigavector.shard_index_ddl(tbl, remote_schema, remote_table);
END
$$;

-- Makes a shard table on a server and its foreign table tbl_shardN here
-- (N the first free number), not yet a partition; returns the foreign table.
CREATE FUNCTION gigavector.create_shard(tbl regclass, server text) RETURNS regclass
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	nsp name;
	rel name;
	shard name;
	n int := 0;
BEGIN
	PERFORM set_config('search_path', gigavector.scaleout_prepare(), true);
	PERFORM gigavector.shard_server_check(server);
	SELECT s.nspname, c.relname INTO nsp, rel FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE c.oid = tbl;
	LOOP
		shard := format('%s_shard%s', rel, n);
		EXIT WHEN to_regclass(format('%I.%I', nsp, shard)) IS NULL;
		n := n + 1;
	END LOOP;
	PERFORM dblink_exec(server, gigavector.shard_table_ddl(tbl, nsp, shard));
	-- the foreign table has the shard table's name and columns
	EXECUTE format('IMPORT FOREIGN SCHEMA %I LIMIT TO (%I) FROM SERVER %I INTO %I', nsp, shard, server, nsp);
	RETURN format('%I.%I', nsp, shard)::regclass;
END
$$;

-- Turns a table into a distributed one: hash-partitioned on shard_key, one
-- foreign partition per server (a server named twice holds two shards).
-- The table keeps its name, columns, defaults, identity and sequences; its
-- rows move to the shards they hash to (counted: the call fails, and
-- nothing changes here, unless every row arrived); its indexes become
-- partitioned indexes here and real ones on every shard (made before the
-- rows go in); its primary key and unique constraints are enforced by each
-- shard (so globally only when they contain the shard key).  The table is
-- locked meanwhile (ACCESS EXCLUSIVE: reads wait too).  Should the call
-- fail, the shard tables it made stay behind, empty (dblink made them).
CREATE FUNCTION gigavector.create_distributed_table(tbl regclass, shard_key name, servers text[])
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	nsp name;
	rel name;
	tmp name;
	cons text[];
	idx text[];
	shard regclass;
	seqs text[];
	cols text;
	nrows bigint;
	moved bigint;
	stmt text;
BEGIN
	IF tbl IS NULL OR shard_key IS NULL OR servers IS NULL OR cardinality(servers) = 0 THEN
		RAISE EXCEPTION 'a distributed table needs a table, a shard key and at least one shard server'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT s.nspname, c.relname INTO nsp, rel FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE c.oid = tbl AND c.relkind = 'r' AND NOT c.relispartition;
	IF rel IS NULL THEN
		RAISE EXCEPTION '% is not an ordinary table', tbl
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'Distribute a plain table that is not partitioned or a partition.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = tbl AND attname = shard_key
				   AND attnum > 0 AND NOT attisdropped) THEN
		RAISE EXCEPTION 'column "%" of table % does not exist', shard_key, tbl
			USING ERRCODE = 'undefined_column';
	END IF;
	PERFORM gigavector.shard_server_check(s) FROM unnest(servers) s;
	EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', tbl);
	PERFORM set_config('search_path', gigavector.scaleout_prepare(), true);
	SELECT coalesce(array_agg(pg_get_constraintdef(oid) ORDER BY oid), '{}') INTO cons
		FROM pg_constraint WHERE conrelid = tbl AND contype IN ('p', 'u');
	SELECT coalesce(array_agg(pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid), '{}') INTO idx
		FROM pg_index i WHERE i.indrelid = tbl
		AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid);
	SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols FROM pg_attribute
		WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
	tmp := left(rel, 50) || '_undistributed';
	EXECUTE format('ALTER TABLE %s RENAME TO %I', tbl, tmp);
	-- its other indexes give their names to the partitioned ones
	FOR stmt IN SELECT format('ALTER INDEX %s RENAME TO %I', i.indexrelid::regclass, left(c.relname, 40) || '_undistributed')
				FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = tbl
				AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid) LOOP
		EXECUTE stmt;
	END LOOP;
	EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED '
				   'INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY HASH (%I)', nsp, rel, nsp, tmp, shard_key);
	EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', nsp, rel,
				   (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = tbl));
	INSERT INTO gigavector.distributed_tables
		VALUES (format('%I.%I', nsp, rel)::regclass, shard_key, cons, (SELECT reloptions FROM pg_class WHERE oid = tbl));
	-- the table's indexes, partitioned indexes here, before the shards: each
	-- shard table is made with them (create_shard)
	FOR i IN 1 .. cardinality(idx) LOOP
		EXECUTE idx[i];
	END LOOP;
	FOR i IN 1 .. cardinality(servers) LOOP
		shard := gigavector.create_shard(format('%I.%I', nsp, rel)::regclass, servers[i]);
		EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %s FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
					   nsp, rel, shard, cardinality(servers), i - 1);
	END LOOP;
	-- the rows, routed to their shards by postgres_fdw in this transaction
	-- (so into the shards' indexes one by one: DDL on a shard table, such as
	-- a bulk index build, would wait for this transaction's rows there)
	EXECUTE format('INSERT INTO %I.%I (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %I.%I',
				   nsp, rel, cols, cols, nsp, tmp);
	GET DIAGNOSTICS moved = ROW_COUNT;
	EXECUTE format('SELECT count(*) FROM %I.%I', nsp, tmp) INTO STRICT nrows;
	IF moved <> nrows THEN
		RAISE EXCEPTION 'only % of the % rows of table % reached the shards', moved, nrows, tbl
			USING ERRCODE = 'data_exception';
	END IF;
	-- the identity sequences' positions and names (the new ones take them);
	-- a serial's sequence, owned by the old table, goes to the new one
	PERFORM setval(pg_get_serial_sequence(format('%I.%I', nsp, rel), a.attname), q.last_value, true)
		FROM pg_attribute a, pg_sequences q
		WHERE a.attrelid = tbl AND a.attidentity <> '' AND NOT a.attisdropped AND q.last_value IS NOT NULL
		AND format('%I.%I', q.schemaname, q.sequencename)::regclass
			= pg_get_serial_sequence(format('%I.%I', nsp, tmp), a.attname)::regclass;
	FOR stmt IN SELECT format('ALTER SEQUENCE %s OWNED BY %I.%I.%I',
					pg_get_serial_sequence(format('%I.%I', nsp, tmp), a.attname), nsp, rel, a.attname)
				FROM pg_attribute a WHERE a.attrelid = tbl AND a.attidentity = '' AND NOT a.attisdropped AND a.attnum > 0
				AND pg_get_serial_sequence(format('%I.%I', nsp, tmp), a.attname) IS NOT NULL LOOP
		EXECUTE stmt;
	END LOOP;
	SELECT coalesce(array_agg(format('ALTER SEQUENCE %s RENAME TO %I',
		pg_get_serial_sequence(format('%I.%I', nsp, rel), a.attname),
		(SELECT relname FROM pg_class WHERE oid = pg_get_serial_sequence(format('%I.%I', nsp, tmp), a.attname)::regclass))), '{}')
		INTO seqs FROM pg_attribute a WHERE a.attrelid = tbl AND a.attidentity <> '' AND NOT a.attisdropped;
	EXECUTE format('DROP TABLE %I.%I', nsp, tmp);
	FOR i IN 1 .. cardinality(seqs) LOOP
		EXECUTE seqs[i];
	END LOOP;
END
$$;
COMMENT ON FUNCTION gigavector.create_distributed_table(regclass, name, text[]) IS 'turn a table into one hash-partitioned on shard_key over postgres_fdw shard servers, moving its rows to their shards, with its indexes on every shard';

-- The distributed table's hash partitions, their bounds and where their rows live.
CREATE VIEW gigavector.shards AS
SELECT p.inhparent::regclass AS tbl,
	   c.oid::regclass AS shard,
	   s.srvname AS server,
	   (SELECT option_value FROM pg_options_to_table(f.ftoptions) WHERE option_name = 'schema_name') AS remote_schema,
	   (SELECT option_value FROM pg_options_to_table(f.ftoptions) WHERE option_name = 'table_name') AS remote_table,
	   b.bound[1]::int AS modulus,
	   b.bound[2]::int AS remainder,
	   'active'::text AS status
FROM gigavector.distributed_tables d
JOIN pg_inherits p ON p.inhparent = d.tbl
JOIN pg_class c ON c.oid = p.inhrelid
JOIN pg_foreign_table f ON f.ftrelid = c.oid
JOIN pg_foreign_server s ON s.oid = f.ftserver,
LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid), 'modulus (\d+), remainder (\d+)') AS bound) b
UNION ALL
SELECT r.tbl, r.shard, s.srvname,
	   (SELECT option_value FROM pg_options_to_table(f.ftoptions) WHERE option_name = 'schema_name'),
	   (SELECT option_value FROM pg_options_to_table(f.ftoptions) WHERE option_name = 'table_name'),
	   NULL::int, NULL::int, 'retired'
FROM gigavector.retired_shards r
JOIN pg_foreign_table f ON f.ftrelid = r.shard
JOIN pg_foreign_server s ON s.oid = f.ftserver;
COMMENT ON VIEW gigavector.shards IS 'the shards of distributed tables: foreign partition, server, remote table, hash bounds, active or retired';

-- tbl must be a distributed table.
CREATE FUNCTION gigavector.distributed_check(tbl regclass) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM gigavector.distributed_tables d WHERE d.tbl = distributed_check.tbl) THEN
		RAISE EXCEPTION 'table % is not distributed', tbl
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'Make it one with gigavector.create_distributed_table.';
	END IF;
END
$$;

-- Adds a shard on server to a live distributed table by splitting the
-- shard that holds the largest share (modulus m, remainder r) in two:
-- (2m, r) on its old server and (2m, r + m) on the new one, each a new
-- shard table that the old shard's rows are copied into by their hash.
-- Writes wait while rows are copied (SHARE lock); reads go on, and wait
-- only for the swap of partitions at the end.  The old shard is detached,
-- not dropped: its remote table keeps every row until
-- drop_retired_shards.  Should a remote commit fail, the copies are left
-- in unattached shard tables and the old shard stays in place: rows are
-- never lost.  Returns the new shard on server.
CREATE FUNCTION gigavector.add_shard(tbl regclass, server text) RETURNS regclass
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	old gigavector.shards;
	keep regclass;
	moved regclass;
	key name;
BEGIN
	PERFORM gigavector.distributed_check(tbl);
	PERFORM gigavector.shard_server_check(server);
	EXECUTE format('LOCK TABLE %s IN SHARE MODE', tbl);
	SELECT * INTO old FROM gigavector.shards s WHERE s.tbl = add_shard.tbl AND s.status = 'active'
		ORDER BY s.modulus, s.remainder LIMIT 1;
	SELECT d.shard_key INTO key FROM gigavector.distributed_tables d WHERE d.tbl = add_shard.tbl;
	keep := gigavector.create_shard(tbl, old.server);
	moved := gigavector.create_shard(tbl, server);
	-- OFFSET 0: the hash test is local (its first argument is a local OID),
	-- never sent to the shard
	EXECUTE format('INSERT INTO %s SELECT * FROM (SELECT * FROM %s OFFSET 0) s '
				   'WHERE satisfies_hash_partition(%s, %s, %s, %I)',
				   keep, old.shard, tbl::oid, 2 * old.modulus, old.remainder, key);
	EXECUTE format('INSERT INTO %s SELECT * FROM (SELECT * FROM %s OFFSET 0) s '
				   'WHERE satisfies_hash_partition(%s, %s, %s, %I)',
				   moved, old.shard, tbl::oid, 2 * old.modulus, old.remainder + old.modulus, key);
	EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', tbl, old.shard);
	EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
				   tbl, keep, 2 * old.modulus, old.remainder);
	EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
				   tbl, moved, 2 * old.modulus, old.remainder + old.modulus);
	INSERT INTO gigavector.retired_shards (shard, tbl) VALUES (old.shard, tbl);
	RETURN moved;
END
$$;
COMMENT ON FUNCTION gigavector.add_shard(regclass, text) IS 'split the largest shard of a distributed table onto a new shard server, copying the rows that move; the old shard is retired, not dropped';

-- Drops the retired shards of tbl: their remote tables and foreign tables.
CREATE FUNCTION gigavector.drop_retired_shards(tbl regclass) RETURNS int
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s record;
	n int := 0;
BEGIN
	PERFORM gigavector.distributed_check(tbl);
	PERFORM set_config('search_path', gigavector.scaleout_prepare(), true);
	FOR s IN SELECT * FROM gigavector.shards v WHERE v.tbl = drop_retired_shards.tbl AND v.status = 'retired' LOOP
		PERFORM dblink_exec(s.server, format('DROP TABLE IF EXISTS %I.%I', s.remote_schema, s.remote_table));
		DELETE FROM gigavector.retired_shards r WHERE r.shard = s.shard;
		EXECUTE format('DROP FOREIGN TABLE %s', s.shard);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION gigavector.drop_retired_shards(regclass) IS 'drop the shards add_shard retired (their remote tables too); returns how many';

-- INSERT ... ON CONFLICT DO UPDATE for a distributed table, which
-- postgres_fdw cannot route (src/shard.c refuses it with a pointer here):
-- the rows of query (the table's columns in order, generated columns left
-- out, as INSERT INTO tbl (those columns) query takes them) replace the rows with the same primary key (else the first
-- unique constraint) and are inserted where there is none.  One UPDATE and
-- one INSERT ... ON CONFLICT DO NOTHING through the foreign partitions, in
-- the caller's transaction (each shard commits with it); writers of the
-- table wait meanwhile (SHARE ROW EXCLUSIVE), so no row comes in between.
-- Returns the rows updated plus inserted.
-- (No SET search_path: the query is the caller's, run with the caller's
-- search_path; every name here is qualified.)
CREATE FUNCTION gigavector.distributed_upsert(tbl regclass, query text) RETURNS bigint
	LANGUAGE plpgsql AS $$
DECLARE
	cons text[];
	conflict text[];
	allcols text[];
	cols text[];
	updated bigint;
	inserted bigint;
	dups boolean;
	stmt text;
	keytype text;
	keys text;
BEGIN
	PERFORM gigavector.distributed_check(tbl);
	IF query IS NULL THEN
		RAISE EXCEPTION 'the query of an upsert must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT d.constraints INTO cons FROM gigavector.distributed_tables d WHERE d.tbl = distributed_upsert.tbl;
	-- the primary key first; pg_get_constraintdef quotes the column names
	SELECT pg_catalog.string_to_array(m[2], ', ') INTO conflict
		FROM pg_catalog.unnest(cons) WITH ORDINALITY c(def, i), LATERAL pg_catalog.regexp_match(c.def, '^(PRIMARY KEY|UNIQUE) \((.*)\)$') m
		WHERE m IS NOT NULL ORDER BY m[1] <> 'PRIMARY KEY', i LIMIT 1;
	IF conflict IS NULL THEN
		RAISE EXCEPTION 'table % has no primary key or unique constraint to upsert on',
			(SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
			 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace WHERE c.oid OPERATOR(pg_catalog.=) tbl)
			USING ERRCODE = 'invalid_table_definition',
				  HINT = 'Declare a primary key on the table before gigavector.create_distributed_table.';
	END IF;
	SELECT pg_catalog.array_agg(pg_catalog.quote_ident(a.attname) ORDER BY a.attnum) INTO allcols FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
	SELECT pg_catalog.array_agg(c) INTO cols FROM pg_catalog.unnest(allcols) c WHERE c <> ALL (conflict);
	EXECUTE pg_catalog.format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	-- the rows, in a table of the columns they give (generated ones left out)
	EXECUTE pg_catalog.format('CREATE TEMP TABLE gv_upsert_rows (LIKE %s INCLUDING DEFAULTS) ON COMMIT DROP', tbl);
	FOR stmt IN SELECT pg_catalog.format('ALTER TABLE pg_temp.gv_upsert_rows DROP COLUMN %I', a.attname)
				FROM pg_catalog.pg_attribute a WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
				AND a.attgenerated <> '' LOOP
		EXECUTE stmt;
	END LOOP;
	EXECUTE pg_catalog.format('INSERT INTO pg_temp.gv_upsert_rows %s', query);
	EXECUTE pg_catalog.format('SELECT count(*) <> count(DISTINCT (%s)) FROM pg_temp.gv_upsert_rows',
				   pg_catalog.array_to_string(conflict, ', ') || CASE WHEN pg_catalog.cardinality(conflict) = 1 THEN ', 0' ELSE '' END)
		INTO dups;
	IF dups THEN
		RAISE EXCEPTION 'gigavector.distributed_upsert cannot affect row a second time'
			USING ERRCODE = 'cardinality_violation',
				  HINT = 'Ensure that no rows proposed for insertion within the same command have duplicate constrained values.';
	END IF;
	updated := 0;
	IF pg_catalog.cardinality(cols) > 0 THEN
		-- the keys as a constant array too: sent to the shards as their WHERE,
		-- so that each returns only the rows to update, not all of its rows
		SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO keytype FROM pg_catalog.pg_attribute a
			WHERE a.attrelid = tbl AND a.attnum > 0 AND pg_catalog.quote_ident(a.attname) = conflict[1];
		EXECUTE pg_catalog.format('SELECT array_agg(%s)::text FROM pg_temp.gv_upsert_rows', conflict[1]) INTO keys;
		EXECUTE pg_catalog.format('UPDATE %s t SET (%s) = ROW(%s) FROM pg_temp.gv_upsert_rows s WHERE %s AND t.%s = ANY (%L::%s[])', tbl,
					   pg_catalog.array_to_string(cols, ', '),
					   (SELECT pg_catalog.string_agg('s.' || c, ', ') FROM pg_catalog.unnest(cols) c),
					   (SELECT pg_catalog.string_agg(pg_catalog.format('t.%s = s.%s', c, c), ' AND ') FROM pg_catalog.unnest(conflict) c),
					   conflict[1], keys, keytype);
		GET DIAGNOSTICS updated = ROW_COUNT;
	END IF;
	EXECUTE pg_catalog.format('INSERT INTO %s (%s) SELECT %s FROM pg_temp.gv_upsert_rows ON CONFLICT DO NOTHING', tbl,
							  pg_catalog.array_to_string(allcols, ', '), pg_catalog.array_to_string(allcols, ', '));
	GET DIAGNOSTICS inserted = ROW_COUNT;
	DROP TABLE pg_temp.gv_upsert_rows;
	RETURN updated + inserted;
END
$$;
COMMENT ON FUNCTION gigavector.distributed_upsert(regclass, text) IS 'INSERT ... ON CONFLICT DO UPDATE for a distributed table: the rows of a query replace those with the same primary key, the rest are inserted; returns how many';

-- Runs one query on every shard of tbl at once, over this session's own
-- connection to each (opened when missing or dropped: one per shard, so
-- that shards on one server run at once too), then gathers the (key,
-- score) rows of each (src/shard.c).  The query is format(template, the
-- shard's table as an identifier, the same as text, VARIADIC args),
-- prepared on the shard once per connection and executed with $1 = value
-- sent in its type's binary format (a text as text, for the shard to parse
-- as whatever type the statement takes there); this session's gigavector search
-- settings (ef_search, probes, ...) travel in the same round trip, so that
-- a search means the same everywhere.  Values are bound, never spliced.  A
-- failure or cancel on any shard cancels the others, closes every
-- connection (none is left busy) and raises.
CREATE FUNCTION gigavector.shard_fan_out(tbl regclass, template text, value anyelement, VARIADIC args text[],
	OUT shard text, OUT key text, OUT score float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'gv_shard_fan_out'
	LANGUAGE C STRICT;

-- A filter for the shards: {"column": value} means column = value,
-- {"column": [v1, v2]} column IN (v1, v2); every pair must hold.  Returns
-- the SQL condition ('true' for none).
CREATE FUNCTION gigavector.shard_filter(filter jsonb) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF filter IS NULL OR filter = '{}' THEN
		RETURN 'true';
	END IF;
	IF jsonb_typeof(filter) <> 'object' THEN
		RAISE EXCEPTION 'a shard filter must be a JSON object of column names and values, not %', filter
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example ''{"label": 3}'' or ''{"label": [3, 4]}''.';
	END IF;
	RETURN (SELECT string_agg(
		CASE WHEN jsonb_typeof(f.value) = 'array'
		THEN format('%I IN (%s)', f.key, (SELECT string_agg(quote_nullable(e), ', ') FROM jsonb_array_elements_text(f.value) e))
		ELSE format('%I = %L', f.key, f.value #>> '{}') END, ' AND ')
		FROM jsonb_each(filter) f);
END
$$;

-- k must be a positive number of rows.
CREATE FUNCTION gigavector.shard_k_check(k int) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF k IS NULL OR k < 1 THEN
		RAISE EXCEPTION 'k must be at least 1, not %', coalesce(k::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- k nearest rows of a distributed table to query: ORDER BY column <op>
-- query LIMIT k runs on every shard at once (through its own index, with
-- this session's gigavector settings) and the shards' answers are merged
-- (src/shard.c: the checks, the statement, the fan-out and the merge in one
-- C function).  Returns each row's shard key as text, and its distance.
CREATE FUNCTION gigavector.distributed_search(tbl regclass, vector_column name, query gvector,
	k int DEFAULT 10, op text DEFAULT '<->', filter jsonb DEFAULT NULL)
	RETURNS TABLE (shard text, key text, distance float8)
	AS 'MODULE_PATHNAME', 'gv_distributed_search'
	LANGUAGE C ROWS 10;
COMMENT ON FUNCTION gigavector.distributed_search(regclass, name, gvector, int, text, jsonb) IS 'k-NN over every shard of a distributed table at once, merged: (shard, key, distance)';

-- The statistics a bm25query carries, as (key, value) rows: N, length
-- (total), df:<lexeme> per term; summed over the shards by
-- distributed_text_search.
CREATE FUNCTION gigavector.bm25query_statistics(q bm25query, OUT key text, OUT value float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'bm25query_statistics'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.bm25query_statistics(bm25query) IS 'the statistics of a bm25query: (N, length, df:<lexeme>) rows';

-- A copy of q with these statistics (the df of each of its terms looked up
-- by lexeme in terms/df, 0 where absent).
CREATE FUNCTION gigavector.bm25query_with_statistics(q bm25query, ndocs float8, total_length float8,
	terms text[], df float8[]) RETURNS bm25query
	AS 'MODULE_PATHNAME', 'bm25query_with_statistics'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION gigavector.bm25query_with_statistics(bm25query, float8, float8, text[], float8[]) IS 'a bm25query scoring with the given statistics (N, total length, document frequency per lexeme)';

-- The k best BM25 matches of a distributed table for a text query, every
-- shard searched at once through its gv_bm25 index on text_column and the
-- answers merged by score.  statistics 'global' (the default): a first
-- round trip gathers each shard's documents, total length and document
-- frequencies of the query's terms, and every shard scores with their sums
-- -- the scores, and so the merged top k, of one server holding every row.
-- 'shard': each shard scores with its own statistics (one round trip;
-- with rows spread by a hash of the key these agree closely), and the
-- scores returned are exactly each shard's bm25_score.
CREATE FUNCTION gigavector.distributed_text_search(tbl regclass, text_column name, query text,
	k int DEFAULT 10, mode text DEFAULT 'or', filter jsonb DEFAULT NULL, statistics text DEFAULT 'global')
	RETURNS TABLE (shard text, key text, score float8)
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	-- the shard's gv_bm25 index on the column, found there (it has the shard's name)
	idx text := '(SELECT i.indexrelid::regclass FROM pg_index i '
		'JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam '
		'JOIN pg_attribute t ON t.attrelid = i.indrelid AND t.attnum = i.indkey[0] '
		'WHERE i.indrelid = %2$L::regclass AND a.amname = ''gv_bm25'' AND t.attname = %4$L LIMIT 1)';
	q text;
	value text := query;
	key_column name;
BEGIN
	PERFORM gigavector.distributed_check(tbl);
	PERFORM gigavector.shard_k_check(k);
	IF query IS NULL OR mode IS NULL THEN
		RAISE EXCEPTION 'the query text and mode must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF statistics IS NULL OR statistics NOT IN ('global', 'shard') THEN
		RAISE EXCEPTION 'unknown BM25 statistics "%"', coalesce(statistics, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use ''global'' (the sums over all shards) or ''shard'' (each shard''s own).';
	END IF;
	SELECT d.shard_key INTO key_column FROM gigavector.distributed_tables d WHERE d.tbl = distributed_text_search.tbl;
	IF statistics = 'shard' THEN
		q := '(SELECT bm25query(' || idx || ', $1, %5$L))';
	ELSE
		SELECT jsonb_build_object('q', query,
				'N', coalesce(sum(s.total) FILTER (WHERE s.key = 'N'), 0),
				'length', coalesce(sum(s.total) FILTER (WHERE s.key = 'length'), 0),
				'df', coalesce(jsonb_object_agg(substr(s.key, 4), s.total) FILTER (WHERE s.key LIKE 'df:%'), '{}'))::text
			INTO value
			FROM (SELECT f.key, sum(f.score) AS total FROM gigavector.shard_fan_out(tbl,
					'SELECT s.key, s.value FROM gigavector.bm25query_statistics((SELECT bm25query(' || idx || ', $1, %5$L))) s',
					query, key_column, text_column, mode) f GROUP BY f.key) s;
		q := '(SELECT gigavector.bm25query_with_statistics(bm25query(' || idx || ', $1::jsonb->>''q'', %5$L), '
			'($1::jsonb->>''N'')::float8, ($1::jsonb->>''length'')::float8, '
			'ARRAY(SELECT e.key FROM jsonb_each_text($1::jsonb->''df'') e ORDER BY e.key), '
			'ARRAY(SELECT e.value::float8 FROM jsonb_each_text($1::jsonb->''df'') e ORDER BY e.key)))';
	END IF;
	RETURN QUERY SELECT f.shard, f.key, f.score FROM gigavector.shard_fan_out(tbl,
		'SELECT %3$I::text, (-(%4$I <&> ' || q || '))::float8 FROM %1$s WHERE (%7$s) AND %4$I @@@ ' || q
		|| ' ORDER BY %4$I <&> ' || q || ' LIMIT %6$s', value,
		key_column, text_column, mode, k::text, gigavector.shard_filter(filter)) f
		ORDER BY f.score DESC, f.key LIMIT k;
END
$$;
COMMENT ON FUNCTION gigavector.distributed_text_search(regclass, name, text, int, text, jsonb, text) IS 'BM25 over every shard of a distributed table at once, merged by score (global statistics by default, or each shard''s own): (shard, key, score)';

-- Where this server stands in streaming replication: on a primary one row
-- per standby (or one row without a standby), on a standby one row for its
-- WAL receiver.  lag_bytes: WAL the standby has yet to replay.
CREATE VIEW gigavector.cluster_status AS
SELECT 'primary'::text AS role, r.application_name AS member, r.client_addr::text AS address,
	   r.state, r.sync_state, r.replay_lsn,
	   pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn) AS lag_bytes, r.replay_lag AS lag
FROM pg_stat_replication r WHERE NOT pg_is_in_recovery()
UNION ALL
SELECT 'primary', NULL, NULL, NULL, NULL, pg_current_wal_lsn(), NULL, NULL
WHERE NOT pg_is_in_recovery() AND NOT EXISTS (SELECT FROM pg_stat_replication)
UNION ALL
SELECT 'standby', w.sender_host || ':' || w.sender_port, w.sender_host, w.status, NULL,
	   pg_last_wal_replay_lsn(), pg_wal_lsn_diff(w.flushed_lsn, pg_last_wal_replay_lsn()),
	   now() - pg_last_xact_replay_timestamp()
FROM (SELECT) x LEFT JOIN pg_stat_wal_receiver w ON true WHERE pg_is_in_recovery();
COMMENT ON VIEW gigavector.cluster_status IS 'this server''s replication role, and each standby''s state and lag (pg_stat_replication, pg_stat_wal_receiver)';
