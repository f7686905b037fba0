-- Every function the extension creates, found in the catalog (so that one
-- added later is covered, or this file fails naming it), called with hostile
-- arguments: NULLs, empty and NaN/Infinity arrays, vectors of 0, 1, the wrong
-- and 16,000 dimensions, extreme magnitudes, negative and huge integers,
-- relations of every kind.  Each call must either return a valid value (a
-- vector that reloads from its text form, no NaN, no infinity) or raise an
-- error with a user SQLSTATE: never XX (internal), never 58 (system), never
-- a crash.  Aggregates are run over every pair of hostile vectors, plainly
-- and as window functions.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION gigavector;

SELECT * FROM no_plan();
SET LOCAL client_min_messages = warning;

-- relations for regclass arguments: an index of each access method, one of
-- another access method, a table, a sequence, partitioned indexes (no
-- storage; the one ON ONLY is invalid too) and an index left invalid as a
-- failed CREATE INDEX CONCURRENTLY leaves it
CREATE TABLE hostile_items (id int PRIMARY KEY, v gvector(2));
INSERT INTO hostile_items SELECT i, ARRAY[i, -i] FROM generate_series(1, 40) i;
CREATE INDEX hostile_hnsw ON hostile_items USING gv_hnsw (v);
CREATE INDEX hostile_ivfpq ON hostile_items USING gv_ivfpq (v) WITH (lists = 2);
CREATE INDEX hostile_kdtree ON hostile_items USING gv_kdtree (v);
CREATE INDEX hostile_hnsw_invalid ON hostile_items USING gv_hnsw (v);
CREATE INDEX hostile_ivfpq_invalid ON hostile_items USING gv_ivfpq (v) WITH (lists = 2);
UPDATE pg_index SET indisvalid = false
	WHERE indexrelid IN ('hostile_hnsw_invalid'::regclass, 'hostile_ivfpq_invalid'::regclass);
CREATE SEQUENCE hostile_seq;
CREATE TABLE hostile_parted (id int, v gvector(2)) PARTITION BY RANGE (id);
CREATE INDEX hostile_parted_hnsw ON hostile_parted USING gv_hnsw (v);
CREATE INDEX hostile_parted_ivfpq ON hostile_parted USING gv_ivfpq (v);
CREATE TABLE hostile_part1 PARTITION OF hostile_parted FOR VALUES FROM (0) TO (10);
CREATE INDEX hostile_only_hnsw ON ONLY hostile_parted USING gv_hnsw (v);
CREATE TABLE hostile_docs (id int, body text);
INSERT INTO hostile_docs VALUES (1, 'cat dog'), (2, repeat('cat ', 300)), (3, NULL), (4, ''), (5, 'the and of');
CREATE INDEX hostile_bm25 ON hostile_docs USING gv_bm25 (body);

-- hostile arguments, by type: SQL expressions, each cast to the argument's
-- type at the call.  internal has only the untyped NULL: SQL has no way to
-- make a value of type internal, which is what the call must show.
CREATE TEMP TABLE hostile_input (type regtype, expr text);
INSERT INTO hostile_input (type, expr) VALUES
	('gvector', 'NULL'), ('gvector', '''[1,2]'''), ('gvector', '''[1]'''),
	('gvector', '''[1,2,3]'''), ('gvector', '''[0,0]'''), ('gvector', '''[-0,0]'''),
	('gvector', '''[3.4e38,-3.4e38]'''), ('gvector', '''[1e-45,-1e-45]'''),
	('gvector', 'array_fill(3e38::real, ARRAY[16000])::gvector'),
	('gvector', 'array_fill(-1e-45::real, ARRAY[16000])::gvector'),
	('ghalfvec', 'NULL'), ('ghalfvec', '''[1,2]'''), ('ghalfvec', '''[1]'''),
	('ghalfvec', '''[1,2,3]'''), ('ghalfvec', '''[0,0]'''), ('ghalfvec', '''[-0,0]'''),
	('ghalfvec', '''[65504,-65504]'''), ('ghalfvec', '''[6e-8,-6e-8]'''),
	('ghalfvec', 'array_fill(65504::real, ARRAY[16000])::ghalfvec'),
	('gbit', 'NULL'), ('gbit', '''01'''), ('gbit', '''1'''), ('gbit', '''011'''), ('gbit', '''00'''),
	('gbit', '''11'''), ('gbit', 'repeat(''1'', 64000)::gbit'),
	('gsparsevec', 'NULL'), ('gsparsevec', '''{1:1}/2'''), ('gsparsevec', '''{}/2'''),
	('gsparsevec', '''{1:1}/3'''), ('gsparsevec', '''{1:3e38,2:-3e38}/2'''),
	('gsparsevec', '''{1:1e-45}/1000000'''),
	('gvector[]', 'NULL'), ('gvector[]', '''{}'''), ('gvector[]', '''{"[1,2]"}'''),
	('gvector[]', '''{"[1,2]","[-3,4]"}'''), ('gvector[]', '''{"[1,2]","[1,2,3]"}'''),
	('gvector[]', 'ARRAY[NULL]::gvector[]'), ('gvector[]', '''{{"[1,2]"},{"[3,4]"}}'''),
	('gvector[]', '''[0:1]={"[1,2]","[3,4]"}'''), ('gvector[]', '''{"[3.4e38,-3.4e38]","[1e-45,-1e-45]"}'''),
	('gvector[]', 'ARRAY[array_fill(3e38::real, ARRAY[16000])::gvector]'),
	('bit varying', 'NULL'), ('bit varying', 'B'''''), ('bit varying', 'B''01'''),
	('bit varying', 'repeat(''1'', 64001)::varbit'),
	('integer', 'NULL'), ('integer', '0'), ('integer', '1'), ('integer', '2'),
	('integer', '-1'), ('integer', '16000'), ('integer', '16001'),
	('integer', '2147483647'), ('integer', '-2147483648'),
	('boolean', 'NULL'), ('boolean', 'true'), ('boolean', 'false'),
	('oid', 'NULL'), ('oid', '0'), ('oid', '''gvector''::regtype'), ('oid', '''int4''::regtype'),
	('oid', '4294967295'),
	('cstring', 'NULL'), ('cstring', ''''''), ('cstring', '''[1,2]'''), ('cstring', '''[]'''),
	('cstring', '''[NaN]'''), ('cstring', '''[-Infinity]'''), ('cstring', '''[1e39]'''),
	('cstring', '''[1e-50]'''), ('cstring', '''['''), ('cstring', '''[1,2]x'''),
	('cstring', '''['' || repeat(''1,'', 16000) || ''1]'''),
	('cstring[]', 'NULL'), ('cstring[]', '''{}'''), ('cstring[]', '''{3}'''), ('cstring[]', '''{0}'''),
	('cstring[]', '''{-1}'''), ('cstring[]', '''{16001}'''), ('cstring[]', '''{2147483648}'''),
	('cstring[]', '''{abc}'''), ('cstring[]', '''{1,2}'''), ('cstring[]', 'ARRAY[NULL]'),
	('cstring[]', '''{{1},{2}}'''),
	('regclass', 'NULL'), ('regclass', '0'), ('regclass', '4294967295'),
	('regclass', '''hostile_items'''), ('regclass', '''hostile_items_pkey'''),
	('regclass', '''hostile_hnsw'''), ('regclass', '''hostile_ivfpq'''),
	('regclass', '''hostile_kdtree'''), ('regclass', '''hostile_hnsw_invalid'''),
	('regclass', '''hostile_ivfpq_invalid'''), ('regclass', '''hostile_seq'''),
	('regclass', '''hostile_parted'''), ('regclass', '''hostile_parted_hnsw'''),
	('regclass', '''hostile_parted_ivfpq'''), ('regclass', '''hostile_only_hnsw'''),
	('regclass', '''pg_class'''),
	('regclass', '''hostile_bm25'''),
	('bm25query', 'NULL'), ('bm25query', 'bm25query(''hostile_bm25'', ''cat'')'),
	('bm25query', 'bm25query(''hostile_bm25'', '''', ''and'')'),
	('bm25query', 'bm25query(''hostile_bm25'', ''cat dog'', ''phrase'')'),
	('bm25query', 'bm25query(''hostile_bm25'', repeat(''cat dog '', 2000))'),
	('tsvector', 'NULL'), ('tsvector', ''''''), ('tsvector', '''a:1 b c:2,3'''),
	('tsvector', 'to_tsvector(''english'', repeat(''cat '', 300))'),
	('tsvector', 'strip(to_tsvector(''english'', ''cats and dogs''))'),
	('tid', 'NULL'), ('tid', '''(0,0)'''), ('tid', '''(0,1)'''), ('tid', '''(4294967295,65535)'''),
	('bytea', 'NULL'), ('bytea', '''\x'''), ('bytea', '''\x00'''),
	('bytea', '''\x0000000000000001000000013ff0000000000000'''),
	('internal', 'NULL'),
	-- a polymorphic value (shard_fan_out's query value): untyped, a vector, a text
	('anyelement', 'NULL'), ('anyelement', '''[1,2]''::gvector'), ('anyelement', '''cat''::text'),
	-- text and names: never an absolute path (no call may touch a file)
	('text', 'NULL'), ('text', ''''''), ('text', '''zstd'''), ('text', '''post'''),
	('name', 'NULL'), ('name', '''public'''), ('name', '''hostile_new'''), ('name', 'repeat(''n'', 63)'),
	('interval', 'NULL'), ('interval', '''0'''), ('interval', '''-1 hour'''), ('interval', '''1 hour'''),
	('interval', '''1 month -30 days'''), ('interval', '''178000000 years'''),
	('bigint', 'NULL'), ('bigint', '0'), ('bigint', '1'), ('bigint', '-9223372036854775808'),
	('bigint', '-1'), ('bigint', '9223372036854775807'),
	('name[]', 'NULL'), ('name[]', '''{}'''), ('name[]', '''{v}'''), ('name[]', 'ARRAY[NULL]::name[]'),
	('text[]', 'NULL'), ('text[]', '''{}'''), ('text[]', '''{nosuch}'''), ('text[]', 'ARRAY[NULL]::text[]'),
	('jsonb', 'NULL'), ('jsonb', '''{}'''), ('jsonb', '''[]'''), ('jsonb', '''{"columns": 1, "indexes": "x"}'''),
	('jsonb', '''{"columns": [{"name": "a", "type": "int); DROP TABLE hostile_items; --"}]}'''),
	('jsonb', '''{"columns": [{"name": "a", "type": "gvector(2)"}], "indexes": [{"name": "i", "method": "gv_hnsw", "columns": [{"expression": "a", "opclass": "gvector_l2_ops; --", "order": ""}]}]}''');
-- GPU search: attribute numbers, and query batches (empty, mixed dimensions, NULLs, 1,000)
INSERT INTO hostile_input (type, expr) VALUES
	('smallint', 'NULL'), ('smallint', '0'), ('smallint', '1'), ('smallint', '2'),
	('smallint', '-1'), ('smallint', '32767'),
	('gvector[]', 'NULL'), ('gvector[]', '''{}'''), ('gvector[]', 'ARRAY[''[1,2]'']::gvector[]'),
	('gvector[]', 'ARRAY[''[1,2]'', ''[1,2,3]'']::gvector[]'), ('gvector[]', 'ARRAY[NULL]::gvector[]'),
	('gvector[]', 'array_fill(''[1,2]''::gvector, ARRAY[1000])');
-- arrays of every element type the casts take; [0:1] has a lower bound
-- other than 1, and the float8[] ones include aggregate-state shapes
INSERT INTO hostile_input (type, expr)
SELECT t, e FROM unnest(ARRAY['integer[]', 'real[]', 'double precision[]', 'numeric[]']::regtype[]) t,
	unnest(ARRAY['NULL', '''{}''', '''{1}''', '''{1,2}''', '''{0}''', '''{NULL}''', '''{1,NULL}''',
				 '''{{1,2},{3,4}}''', '''[0:1]={1,2}''', 'array_fill(1, ARRAY[16000])',
				 'array_fill(1, ARRAY[16001])', '''{2147483647,-2147483648}''']) e;
INSERT INTO hostile_input (type, expr)
SELECT t, e FROM unnest(ARRAY['real[]', 'double precision[]', 'numeric[]']::regtype[]) t,
	unnest(ARRAY['''{NaN}''', '''{1,NaN}''', '''{Infinity}''', '''{-Infinity,1}''', '''{1e39}''',
				 '''{-3.4e38,3.4e38}''', '''{1e-50}''', '''{1e-46}''']) e
WHERE e NOT IN ('''{Infinity}''', '''{-Infinity,1}''', '''{1e39}''', '''{1e-50}''', '''{1e-46}''')
	OR t <> 'real[]'::regtype;
INSERT INTO hostile_input (type, expr)
SELECT 'double precision[]', e FROM
	unnest(ARRAY['''{-1,5}''', '''{0.5,1}''', '''{3,1e308,1e308}''', '''{1e308,1e308}''',
				 '''{1,1e300}''', '''{2,NaN,1}''', '''{0,NaN}''']) e;

-- what a valid result is, by return type: an expression over the result's
-- text form r that is NULL when it is valid, else says what is wrong; the
-- text form is cast back to the type first, as a dump's reload would
CREATE TEMP TABLE hostile_check (type regtype PRIMARY KEY, problem text);
INSERT INTO hostile_check VALUES
	('gvector', $$CASE WHEN vector_dims(r::gvector) NOT BETWEEN 1 AND 16000 THEN 'dimensions' END$$),
	('ghalfvec', $$CASE WHEN vector_dims(r::ghalfvec) NOT BETWEEN 1 AND 16000 THEN 'dimensions' END$$),
	('gbit', $$CASE WHEN vector_dims(r::gbit) NOT BETWEEN 1 AND 64000 OR r !~ '^[01]+$' THEN 'bits' END$$),
	('gsparsevec', $$CASE WHEN vector_dims(r::gsparsevec) NOT BETWEEN 1 AND 1000000 THEN 'dimensions' END$$),
	('bit varying', $$CASE WHEN length(r::varbit) NOT BETWEEN 1 AND 64000 THEN 'bits' END$$),
	('double precision', $$CASE WHEN r::float8 IN ('NaN', 'Infinity', '-Infinity') THEN 'not finite' END$$),
	('real[]', $$CASE WHEN 'NaN' = ANY (r::real[]) OR 'Infinity' = ANY (r::real[]) OR '-Infinity' = ANY (r::real[]) THEN 'not finite' END$$),
	('double precision[]', $$CASE WHEN 'NaN' = ANY (r::float8[]) OR 'Infinity' = ANY (r::float8[]) OR '-Infinity' = ANY (r::float8[]) THEN 'not finite' END$$),
	('numeric[]', $$CASE WHEN 'NaN' = ANY (r::numeric[]) OR 'Infinity' = ANY (r::numeric[]) OR '-Infinity' = ANY (r::numeric[]) THEN 'not finite' END$$),
	('jsonb[]', $$CASE WHEN EXISTS (SELECT FROM unnest(r::jsonb[]) e WHERE jsonb_typeof(e) <> 'object') THEN 'not objects' END$$),
	('integer', NULL), ('integer[]', NULL), ('boolean', NULL), ('text', NULL),
	('cstring', NULL), ('bytea', NULL), ('record', NULL), ('bigint', NULL), ('jsonb', NULL),
	('internal', NULL), ('index_am_handler', NULL),
	('name', NULL), ('void', NULL), ('timestamp with time zone', NULL), ('event_trigger', NULL),
	('trigger', NULL),
	('regclass', $$CASE WHEN to_regclass(r) IS NULL THEN 'no such relation' END$$),
	-- a bm25query has no input form (bm25query() makes one): shown, not reloaded
	('bm25query', NULL);

-- Run one call (a query returning text rows); a row saying what went wrong,
-- or none.  A pseudo-type result cannot be shown, only tested for NULL.
CREATE FUNCTION pg_temp.hostile_try(query text, rettype regtype) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r			text;
	problem		text;
	check_expr	text;
	state		text;
	msg			text;
BEGIN
	SELECT c.problem INTO check_expr FROM hostile_check c WHERE c.type = rettype;
	BEGIN
		FOR r IN EXECUTE query LOOP
			IF r IS NOT NULL AND check_expr IS NOT NULL THEN
				BEGIN
					EXECUTE format('SELECT %s FROM (SELECT $1 AS r) s', check_expr) INTO problem USING r;
				EXCEPTION WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
					problem := format('result %s is not valid (%s %s)', left(r, 60), state, msg);
				END;
				IF problem IS NOT NULL THEN
					RETURN format('%s: %s (%s)', left(query, 200), problem, left(r, 60));
				END IF;
			END IF;
		END LOOP;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
		IF left(state, 2) IN ('XX', '58') THEN
			RETURN format('%s: %s %s', left(query, 200), state, msg);
		END IF;
	END;
	RETURN NULL;
END $$;

-- the queries that call one function: its arguments run over the cartesian
-- product of the hostile inputs of their types; an aggregate runs over
-- every ordered pair (and no row), plainly and as a window function
CREATE FUNCTION pg_temp.hostile_queries(fn regprocedure) RETURNS SETOF text
LANGUAGE sql AS $$
	WITH p AS (
		SELECT p.*, format('%I.%I', n.nspname, p.proname) AS qname,
			CASE WHEN p.prorettype IN ('internal'::regtype, 'index_am_handler'::regtype)
				 THEN '(%s) IS NULL' ELSE '(%s)::text' END AS shown
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = fn
	), args(pos, list) AS (
		WITH RECURSIVE a(pos, list) AS (
			SELECT 0, ARRAY[]::text[]
			UNION ALL
			SELECT a.pos + 1, a.list || CASE WHEN h.type = 'internal'::regtype THEN h.expr
				ELSE format('(%s)::%s', h.expr, format_type(h.type, NULL)) END
			FROM a, p, hostile_input h
			WHERE a.pos < p.pronargs AND h.type = p.proargtypes[a.pos]
		)
		SELECT * FROM a
	)
	SELECT format('SELECT ' || p.shown, format('%s(%s)', p.qname, array_to_string(args.list, ', ')))
	FROM p, args WHERE p.prokind = 'f' AND args.pos = p.pronargs
	UNION ALL
	SELECT format('SELECT (%s(x))::text FROM (VALUES (%s), (%s)) t(x)',
				  p.qname, args.list[1], args2.list[1])
	FROM p, args, args args2 WHERE p.prokind = 'a' AND args.pos = 1 AND args2.pos = 1
	UNION ALL
	SELECT format('SELECT (%s(x) OVER (ORDER BY o ROWS BETWEEN 1 PRECEDING AND CURRENT ROW))::text FROM (VALUES (1, %s), (2, %s), (3, %s)) t(o, x)',
				  p.qname, args.list[1], args2.list[1], args.list[1])
	FROM p, args, args args2 WHERE p.prokind = 'a' AND args.pos = 1 AND args2.pos = 1
	UNION ALL
	SELECT format('SELECT (%s(x))::text FROM (SELECT %s WHERE false) t(x)', p.qname, args.list[1])
	FROM p, args WHERE p.prokind = 'a' AND args.pos = 1
$$;

CREATE TEMP TABLE hostile_fn AS
	SELECT p.oid::regprocedure AS fn, p.prorettype::regtype AS rettype, p.prokind
	FROM pg_proc p
	JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'gigavector'
	-- hybrid_search takes 14 arguments: their cross product of hostile inputs
	-- fills the disk; its bad inputs are one at a time in sql/hybrid.sql
	-- (maxsim_search's, 9 arguments, in sql/maxsim.sql; the distributed
	-- searches', 6 and 7 arguments, in test/t/080_shard_search.pl and
	-- 083_shard_writes.pl, which also has bm25query_with_statistics')
	WHERE p.proname NOT IN ('hybrid_search', 'maxsim_search', 'distributed_search', 'distributed_text_search',
							'bm25query_with_statistics');

SELECT cmp_ok((SELECT count(*)::int FROM hostile_fn), '>=', 45,
			  'the catalog lists the extension''s functions');

-- every argument type and every result type has hostile inputs / a check
SELECT is_empty($$
	SELECT f.fn::text || ': no hostile inputs for type ' || format_type(t, NULL)
	FROM hostile_fn f, pg_proc p, unnest(p.proargtypes) t
	WHERE p.oid = f.fn AND NOT EXISTS (SELECT FROM hostile_input h WHERE h.type = t)
$$, 'every argument type of every function has hostile inputs');
SELECT is_empty($$
	SELECT f.fn::text || ': no result check for type ' || format_type(f.rettype, NULL)
	FROM hostile_fn f WHERE NOT EXISTS (SELECT FROM hostile_check c WHERE c.type = f.rettype)
$$, 'every result type of every function has a validity check');
SELECT is_empty($$
	SELECT f.fn::text || ': kind ' || f.prokind::text || ' is not called by this test'
	FROM hostile_fn f WHERE f.prokind NOT IN ('f', 'a')
$$, 'every function is a plain function or an aggregate');

-- no function taking internal can be called from SQL at all: each such
-- call is refused as a call of a function that does not exist
CREATE FUNCTION pg_temp.hostile_sqlstate(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	state		text;
BEGIN
	EXECUTE query;
	RETURN '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
	RETURN state;
END $$;
SELECT is_empty($$
	SELECT q || ': ' || pg_temp.hostile_sqlstate(q)
	FROM hostile_fn f JOIN pg_proc p ON p.oid = f.fn, pg_temp.hostile_queries(f.fn) q
	WHERE 'internal'::regtype = ANY (p.proargtypes) AND pg_temp.hostile_sqlstate(q) <> '42883'
$$, 'no function taking internal is reachable from SQL');

-- the calls, one assertion a function, listing the first calls that went
-- wrong
SELECT ok(count(bad) = 0, fn::text || ': ' || count(*) ||
		  ' hostile calls give a valid value or a user error') ||
	CASE WHEN count(bad) > 0
		 THEN E'\n' || diag(count(bad) || ' went wrong, among them:' || E'\n' ||
							array_to_string((array_agg(bad))[1:10], E'\n'))
		 ELSE '' END
FROM hostile_fn f, pg_temp.hostile_queries(f.fn) q, LATERAL pg_temp.hostile_try(q, f.rettype) bad
GROUP BY f.fn ORDER BY f.fn::text;

SELECT * FROM finish();
ROLLBACK;
