------------------------------------------------------------------------------
-- backup and restore: the .gvb format (src/backup)
------------------------------------------------------------------------------

-- What a backup records about a table besides its rows: columns (types as
-- format_type writes them with the extension's schema on the search path,
-- so gigavector's types come back in whatever schema the restoring
-- database keeps the extension), constraints, indexes with their options,
-- sequences of identity and serial columns, the TTL settings.  Foreign keys,
-- triggers, policies, grants and comments are not recorded.
CREATE FUNCTION gigavector.backup_definition(tbl regclass) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, @extschema@, pg_temp AS $$
DECLARE
	rel record;
	ttl jsonb;
	ttl_index name;
	seqs jsonb := '{}';
	col record;
	seq record;
BEGIN
	SELECT c.oid, c.relname, n.nspname, c.reloptions, c.relpersistence, c.relkind
		INTO rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
	IF to_regclass('gigavector.ttl_tables') IS NOT NULL THEN
		EXECUTE 'SELECT jsonb_build_object(''column'', ttl_column, ''default_ttl'', default_ttl::text), index_name
				 FROM gigavector.ttl_tables WHERE tbl = $1'
			INTO ttl, ttl_index USING tbl;
	END IF;
	-- identity and serial sequences: their options and their state
	FOR col IN SELECT a.attname, a.attidentity, pg_get_serial_sequence(tbl::text, a.attname)::regclass AS s
			   FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
	LOOP
		CONTINUE WHEN col.s IS NULL;
		-- its position, if this role may read it (else the restore starts
		-- the sequence after the largest value restored)
		IF has_sequence_privilege(col.s, 'SELECT') THEN
			EXECUTE format('SELECT last_value, is_called FROM %s', col.s) INTO seq;
		ELSE
			SELECT NULL::bigint AS last_value, NULL::boolean AS is_called INTO seq;
		END IF;
		seqs := seqs || jsonb_build_object(col.attname, (
			SELECT jsonb_build_object('start', seqstart, 'increment', seqincrement,
				'min', seqmin, 'max', seqmax, 'cache', seqcache, 'cycle', seqcycle,
				'last_value', seq.last_value, 'is_called', seq.is_called)
			FROM pg_sequence WHERE seqrelid = col.s));
	END LOOP;
	RETURN jsonb_build_object(
		'table', jsonb_build_object('schema', rel.nspname, 'name', rel.relname,
			'unlogged', rel.relpersistence = 'u', 'reloptions', to_jsonb(rel.reloptions)),
		'server_version', current_setting('server_version_num')::int,
		'created_at', now(),
		'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', a.attname,
				'type', format_type(a.atttypid, a.atttypmod),
				'not_null', a.attnotnull,
				'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
				'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
				'identity', nullif(a.attidentity, ''),
				-- a serial column: its default draws from a sequence the column owns
				'serial', a.attidentity = '' AND seqs ? a.attname
					AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%',
				'sequence', seqs -> a.attname::text,
				'collation', CASE WHEN a.attcollation <> t.typcollation
					THEN format('%I.%I', cn.nspname, co.collname) END,
				'storage', CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage END)
				ORDER BY a.attnum), '[]')
			FROM pg_attribute a
			JOIN pg_type t ON t.oid = a.atttypid
			LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			LEFT JOIN pg_collation co ON co.oid = a.attcollation
			LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
			WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped),
		'constraints', (SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', conname, 'type', contype, 'definition', pg_get_constraintdef(oid))
				ORDER BY contype, conname), '[]')
			FROM pg_constraint WHERE conrelid = tbl AND contype IN ('c', 'p', 'u', 'x')),
		'skipped_constraints', (SELECT coalesce(jsonb_agg(conname ORDER BY conname), '[]')
			FROM pg_constraint WHERE conrelid = tbl AND contype NOT IN ('c', 'p', 'u', 'x')),
		'indexes', (SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', ic.relname,
				'method', am.amname,
				'unique', i.indisunique,
				'columns', (SELECT jsonb_agg(jsonb_build_object(
						'expression', pg_get_indexdef(i.indexrelid, k, true),
						'opclass', CASE WHEN oc.opcnamespace IN ('pg_catalog'::regnamespace, '@extschema@'::regnamespace)
							THEN quote_ident(oc.opcname) ELSE format('%I.%I', ocn.nspname, oc.opcname) END,
						'order', concat_ws(' ',
							CASE WHEN i.indoption[k - 1] & 1 = 1 THEN 'DESC' END,
							CASE WHEN i.indoption[k - 1] & 3 = 1 THEN 'NULLS LAST'
								 WHEN i.indoption[k - 1] & 3 = 2 THEN 'NULLS FIRST' END))
						ORDER BY k)
					FROM generate_series(1, i.indnkeyatts) k
					JOIN pg_opclass oc ON oc.oid = i.indclass[k - 1]
					JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace),
				'include', (SELECT jsonb_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k)
					FROM generate_series(i.indnkeyatts + 1, i.indnatts) k),
				'reloptions', to_jsonb(ic.reloptions),
				'predicate', pg_get_expr(i.indpred, i.indrelid))
				ORDER BY ic.relname), '[]')
			FROM pg_index i
			JOIN pg_class ic ON ic.oid = i.indexrelid
			JOIN pg_am am ON am.oid = ic.relam
			WHERE i.indrelid = tbl
				AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = tbl)
				AND ic.relname IS DISTINCT FROM ttl_index),
		'ttl', ttl);
END
$$;
COMMENT ON FUNCTION gigavector.backup_definition(regclass) IS 'the table definition a .gvb backup records: columns, constraints, indexes and their options, sequences, TTL';

-- A definition comes from a file: the pieces restore_definition puts into
-- DDL unquoted must be what backup_definition writes (a type name, a
-- possibly qualified name, a sort order, an option name), never more.
CREATE FUNCTION gigavector.restore_check(value text, kind text) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, @extschema@, pg_temp AS $$
BEGIN
	IF value IS NULL THEN
		RETURN NULL;
	ELSIF kind = 'type' AND value ~ '^[[:alnum:]_ ."$,()\[\]-]+$' AND value !~ '--' AND value !~ '[(]\s*[(]' THEN
		PERFORM value::regtype;
		RETURN value;
	ELSIF kind = 'name' AND value ~ '^("([^"]|"")+"|[[:alpha:]_][[:alnum:]_$]*)(\.("([^"]|"")+"|[[:alpha:]_][[:alnum:]_$]*))?$' THEN
		RETURN value;
	ELSIF kind = 'order' AND value IN ('', 'DESC', 'NULLS FIRST', 'NULLS LAST', 'DESC NULLS FIRST', 'DESC NULLS LAST') THEN
		RETURN value;
	ELSIF kind = 'option' AND value ~ '^[[:alpha:]_][[:alnum:]_.]*$' THEN
		RETURN value;
	END IF;
	RAISE EXCEPTION 'invalid .gvb backup: % "%" in its table definition', kind, value
		USING ERRCODE = 'bad_copy_file_format';
END
$$;

-- The statements that recreate a backed-up table as schema.table, phase
-- 'table' (the table, its columns, defaults and CHECK constraints) or
-- 'post' (after the rows: primary key, unique and exclusion constraints,
-- indexes, sequence positions, TTL, ANALYZE).  gigavector.restore runs
-- them one by one, each parsed as a single statement, with this function's
-- search_path.
-- Index and constraint names are kept when free, else the source table's
-- name at their start becomes the target's, else PostgreSQL chooses one.
-- A gv_ivfpq training_table that does not exist here is left out (the
-- index trains on the restored rows), with a warning.
CREATE FUNCTION gigavector.restore_definition(definition jsonb, "schema" name, "table" name,
		phase text) RETURNS SETOF text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, @extschema@, pg_temp AS $$
DECLARE
	target text := format('%I.%I', "schema", "table");
	source name := definition #>> '{table,name}';
	cols text[] := '{}';
	c jsonb;
	i jsonb;
	s text;
	colspec text;
	opts text[];
	o text;
	trainer text;
BEGIN
	IF phase = 'table' THEN
		FOR c IN SELECT * FROM jsonb_array_elements(definition -> 'columns') LOOP
			IF (c ->> 'serial')::boolean THEN
				colspec := format('%I %s', c ->> 'name', CASE c ->> 'type'
					WHEN 'bigint' THEN 'bigserial' WHEN 'smallint' THEN 'smallserial' ELSE 'serial' END);
			ELSE
				colspec := format('%I %s', c ->> 'name', gigavector.restore_check(c ->> 'type', 'type'));
			END IF;
			IF c ->> 'collation' IS NOT NULL THEN
				colspec := colspec || ' COLLATE ' || gigavector.restore_check(c ->> 'collation', 'name');
			END IF;
			IF (c ->> 'not_null')::boolean AND c ->> 'identity' IS NULL THEN
				colspec := colspec || ' NOT NULL';
			END IF;
			IF c ->> 'default' IS NOT NULL AND NOT (c ->> 'serial')::boolean THEN
				colspec := colspec || ' DEFAULT ' || (c ->> 'default');
			END IF;
			IF c ->> 'generated' IS NOT NULL THEN
				colspec := colspec || format(' GENERATED ALWAYS AS (%s) STORED', c ->> 'generated');
			END IF;
			IF c ->> 'identity' IS NOT NULL THEN
				colspec := colspec || format(' GENERATED %s AS IDENTITY (START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s %s)',
					CASE c ->> 'identity' WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END,
					c #>> '{sequence,start}', c #>> '{sequence,increment}', c #>> '{sequence,min}',
					c #>> '{sequence,max}', c #>> '{sequence,cache}',
					CASE WHEN (c #>> '{sequence,cycle}')::boolean THEN 'CYCLE' ELSE 'NO CYCLE' END);
			END IF;
			cols := cols || colspec;
		END LOOP;
		FOR c IN SELECT * FROM jsonb_array_elements(definition -> 'constraints') WHERE value ->> 'type' = 'c' LOOP
			cols := cols || format('CONSTRAINT %I %s', c ->> 'name', c ->> 'definition');
		END LOOP;
		s := format('CREATE %sTABLE %s (%s)',
			CASE WHEN (definition #>> '{table,unlogged}')::boolean THEN 'UNLOGGED ' ELSE '' END,
			target, array_to_string(cols, ', '));
		IF jsonb_typeof(definition #> '{table,reloptions}') = 'array' THEN
			s := s || format(' WITH (%s)', (SELECT string_agg(format('%s = %L',
					gigavector.restore_check(split_part(v, '=', 1), 'option'),
					substr(v, strpos(v, '=') + 1)), ', ')
				FROM jsonb_array_elements_text(definition #> '{table,reloptions}') v));
		END IF;
		RETURN NEXT s;
		FOR c IN SELECT * FROM jsonb_array_elements(definition -> 'columns') WHERE value ->> 'storage' IS NOT NULL LOOP
			s := format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE %s', target, c ->> 'name',
				CASE c ->> 'storage' WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL'
					WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END);
			RETURN NEXT s;
		END LOOP;
		RETURN;
	ELSIF phase <> 'post' THEN
		RAISE EXCEPTION 'unknown restore phase "%"', phase USING ERRCODE = 'invalid_parameter_value';
	END IF;

	FOR c IN SELECT * FROM jsonb_array_elements(definition -> 'constraints') WHERE value ->> 'type' <> 'c' LOOP
		s := format('ALTER TABLE %s ADD %s%s', target,
			coalesce('CONSTRAINT ' || quote_ident(gigavector.restore_name(c ->> 'name', source, "schema", "table")) || ' ', ''),
			c ->> 'definition');
		RETURN NEXT s;
	END LOOP;
	FOR i IN SELECT * FROM jsonb_array_elements(definition -> 'indexes') LOOP
		opts := '{}';
		FOR o IN SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(i -> 'reloptions') = 'array'
				THEN i -> 'reloptions' ELSE '[]' END) LOOP
			IF i ->> 'method' = 'gv_ivfpq' AND o LIKE 'training_table=%' THEN
				trainer := regexp_replace(substr(o, length('training_table=') + 1), '\(.*\)$', '');
				IF to_regclass(trainer) IS NULL THEN
					RAISE WARNING 'training table % of index % does not exist here: the restored index trains on the restored rows',
						trainer, i ->> 'name';
					CONTINUE;
				END IF;
			END IF;
			opts := opts || format('%s = %L', gigavector.restore_check(split_part(o, '=', 1), 'option'),
				substr(o, strpos(o, '=') + 1));
		END LOOP;
		s := format('CREATE %sINDEX %s ON %s USING %I (%s)%s%s%s',
			CASE WHEN (i ->> 'unique')::boolean THEN 'UNIQUE ' ELSE '' END,
			coalesce(quote_ident(gigavector.restore_name(i ->> 'name', source, "schema", "table")), ''),
			target, i ->> 'method',
			(SELECT string_agg(concat_ws(' ', CASE WHEN k ->> 'expression' ~ '^("([^"]|"")+"|[a-z_][a-z0-9_$]*)$'
					THEN k ->> 'expression' ELSE '(' || (k ->> 'expression') || ')' END,
					gigavector.restore_check(k ->> 'opclass', 'name'),
					nullif(gigavector.restore_check(k ->> 'order', 'order'), '')), ', ')
			 FROM jsonb_array_elements(i -> 'columns') k),
			CASE WHEN jsonb_typeof(i -> 'include') = 'array'
				THEN format(' INCLUDE (%s)', (SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(i -> 'include') v))
				ELSE '' END,
			CASE WHEN cardinality(opts) > 0 THEN format(' WITH (%s)', array_to_string(opts, ', ')) ELSE '' END,
			coalesce(' WHERE ' || (i ->> 'predicate'), ''));
		RETURN NEXT s;
	END LOOP;
	FOR c IN SELECT * FROM jsonb_array_elements(definition -> 'columns') WHERE jsonb_typeof(value -> 'sequence') = 'object' LOOP
		IF c #>> '{sequence,last_value}' IS NOT NULL THEN
			s := format('SELECT setval(pg_get_serial_sequence(%L, %L), %s, %s)', target, c ->> 'name',
				c #>> '{sequence,last_value}', c #>> '{sequence,is_called}');
		ELSE
			s := format('SELECT setval(pg_get_serial_sequence(%L, %L), coalesce(max(%I), %s), max(%I) IS NOT NULL) FROM %s',
				target, c ->> 'name', c ->> 'name', c #>> '{sequence,start}', c ->> 'name', target);
		END IF;
		RETURN NEXT s;
	END LOOP;
	IF jsonb_typeof(definition -> 'ttl') = 'object' THEN
		IF to_regprocedure('gigavector.enable_ttl(regclass,name,interval)') IS NULL THEN
			RAISE WARNING 'the backup has TTL settings and this gigavector has no TTL: rows of % will not expire', target;
		ELSE
			s := format('SELECT gigavector.enable_ttl(%L, %L, %L)', target,
				definition #>> '{ttl,column}', definition #>> '{ttl,default_ttl}');
			RETURN NEXT s;
		END IF;
	END IF;
	s := format('ANALYZE %s', target);
	RETURN NEXT s;
END
$$;
COMMENT ON FUNCTION gigavector.restore_definition(jsonb, name, name, text) IS 'used by gigavector.restore: recreate a backed-up table definition, phase ''table'' before the rows and ''post'' after them';

-- The name an index or constraint called name on table source gets on
-- "schema"."table": the same when free, else with the target's name for
-- the source's at its start when that is free, else NULL (PostgreSQL
-- chooses).
CREATE FUNCTION gigavector.restore_name(name text, source text, "schema" name, "table" name)
	RETURNS text LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE
		WHEN to_regclass(format('%I.%I', "schema", name)) IS NULL THEN name
		WHEN starts_with(name, source) AND length("table" || substr(name, length(source) + 1)) <= 63
			AND to_regclass(format('%I.%I', "schema", "table" || substr(name, length(source) + 1))) IS NULL
			THEN "table" || substr(name, length(source) + 1)
	END
$$;

CREATE FUNCTION gigavector.backup(tbl regclass, path text DEFAULT NULL,
		compression text DEFAULT 'zstd', level integer DEFAULT 3, columns name[] DEFAULT NULL)
	RETURNS SETOF bytea
	AS 'MODULE_PATHNAME', 'gv_backup' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION gigavector.backup(regclass, text, text, integer, name[]) IS 'a .gvb backup of the table: streamed as bytea chunks when path is NULL, else written to that server file (superuser or pg_write_server_files); columns: only these (the others restore to their defaults)';

CREATE FUNCTION gigavector.restore(path text, target text DEFAULT NULL, replace boolean DEFAULT false)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'gv_restore_file' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION gigavector.restore(text, text, boolean) IS 'recreate the table of a .gvb server file (superuser or pg_read_server_files) as target (NULL: its own name), with its indexes; replace drops an existing table first; returns the rows restored';

-- The client's form: the chunks of a .gvb file, in order, as the input of
-- an aggregate (SELECT gigavector.restore(chunk, 'items', false ORDER BY n)
-- FROM uploaded).  Chunks may be cut anywhere.
CREATE FUNCTION gigavector.restore_accum(internal, bytea, text, boolean) RETURNS internal
	AS 'MODULE_PATHNAME', 'gv_restore_accum' LANGUAGE C VOLATILE;
CREATE FUNCTION gigavector.restore_accum(internal, bytea, text) RETURNS internal
	AS 'MODULE_PATHNAME', 'gv_restore_accum' LANGUAGE C VOLATILE;
CREATE FUNCTION gigavector.restore_accum(internal, bytea) RETURNS internal
	AS 'MODULE_PATHNAME', 'gv_restore_accum' LANGUAGE C VOLATILE;
CREATE FUNCTION gigavector.restore_final(internal) RETURNS bigint
	AS 'MODULE_PATHNAME', 'gv_restore_final' LANGUAGE C VOLATILE;
CREATE AGGREGATE gigavector.restore(chunk bytea, target text, replace boolean) (
	SFUNC = gigavector.restore_accum, STYPE = internal,
	FINALFUNC = gigavector.restore_final, FINALFUNC_MODIFY = READ_WRITE);
CREATE AGGREGATE gigavector.restore(chunk bytea, target text) (
	SFUNC = gigavector.restore_accum, STYPE = internal,
	FINALFUNC = gigavector.restore_final, FINALFUNC_MODIFY = READ_WRITE);
CREATE AGGREGATE gigavector.restore(chunk bytea) (
	SFUNC = gigavector.restore_accum, STYPE = internal,
	FINALFUNC = gigavector.restore_final, FINALFUNC_MODIFY = READ_WRITE);
COMMENT ON AGGREGATE gigavector.restore(bytea, text, boolean) IS 'recreate the table of a .gvb backup whose bytes are the chunks aggregated in order, as target (NULL: its own name); replace drops an existing table first; returns the rows restored';
COMMENT ON AGGREGATE gigavector.restore(bytea, text) IS 'gigavector.restore(chunk, target, false)';
COMMENT ON AGGREGATE gigavector.restore(bytea) IS 'gigavector.restore(chunk, NULL, false)';

CREATE FUNCTION gigavector.backup_verify(path text, OUT valid boolean, OUT frames bigint,
		OUT "rows" bigint, OUT problem text)
	AS 'MODULE_PATHNAME', 'gv_backup_verify' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION gigavector.backup_verify(text) IS 'check every checksum and the structure of a .gvb server file (superuser or pg_read_server_files): valid, frames, rows, and what is wrong (which frame, which byte) when not valid';

CREATE FUNCTION gigavector.backup_info(path text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'gv_backup_info' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION gigavector.backup_info(text) IS 'the header of a .gvb server file (format version, gigavector version, rows, dimension, compression, columns, table definition) and its trailer (frames, bytes)';
