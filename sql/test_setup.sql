-- test_setup: helpers the other tests share, in schema regress.  It runs
-- first (the Makefile's REGRESS, and test/run regress NAME puts it first);
-- pg_regress keeps one database for the whole run.
SET client_min_messages = warning;
CREATE SCHEMA regress;
-- the tests call them under other roles too
GRANT USAGE ON SCHEMA regress TO PUBLIC;

-- regress.err(sql): the SQLSTATE and message a statement fails with, or 'ok'
CREATE FUNCTION regress.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- regress.recall(table, column, operator, query, k [, ties]): the share of
-- the exact k nearest rows (a sequential scan's, ties broken by id) that the
-- index scan returns, or -1 when the plan uses no index scan.  With ties,
-- every row as near as the k-th counts as a right answer (small Hamming
-- distances tie often).  The table has an integer column id.
CREATE FUNCTION regress.recall(tbl regclass, col name, op text, q anyelement, k int,
							   ties boolean DEFAULT false) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
	typ text := pg_typeof(q)::text;
	exact int[];
	got int[];
	used boolean := false;
	kth float8;
	line text;
BEGIN
	PERFORM set_config('enable_indexscan', 'off', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	IF ties THEN
		EXECUTE format('SELECT max(d) FROM (SELECT %I %s %L::%s AS d FROM %s ORDER BY 1 LIMIT %s) s',
					   col, op, q, typ, tbl, k) INTO kth;
		EXECUTE format('SELECT array_agg(id) FROM %s WHERE %I %s %L::%s <= %s',
					   tbl, col, op, q, typ, kth) INTO exact;
	ELSE
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY %I %s %L::%s, id LIMIT %s) s',
					   tbl, col, op, q, typ, k) INTO exact;
	END IF;
	PERFORM set_config('enable_indexscan', 'on', true);
	PERFORM set_config('enable_seqscan', 'off', true);
	FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT id FROM %s ORDER BY %I %s %L::%s LIMIT %s',
							   tbl, col, op, q, typ, k) LOOP
		used := used OR line LIKE '%Index Scan%';
	END LOOP;
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY %I %s %L::%s LIMIT %s) s',
				   tbl, col, op, q, typ, k) INTO got;
	PERFORM set_config('enable_seqscan', 'on', true);
	IF NOT used THEN
		RETURN -1;
	END IF;
	RETURN (SELECT count(*) FROM unnest(got) g WHERE g = ANY (exact))::float8 / k;
END $$;

-- regress.agree(table, condition [, queries]): for each query vector (the
-- column emb of the table's rows that match queries), whether the top 10
-- rows matching condition through the index (emb <-> q) equal the exact top
-- 10 (l2_distance, ties broken by id); 'N of M'.
CREATE FUNCTION regress.agree(tbl regclass, cond text, queries text DEFAULT 'id % 300 = 1')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	same int := 0;
	total int := 0;
	idx int[];
	ex int[];
	q gvector;
BEGIN
	FOR q IN EXECUTE format('SELECT emb FROM %s WHERE %s', tbl, queries) LOOP
		SET LOCAL enable_seqscan = off;
		EXECUTE format('SELECT ARRAY(SELECT id FROM %s WHERE %s ORDER BY emb <-> $1 LIMIT 10)', tbl, cond)
			INTO idx USING q;
		SET LOCAL enable_seqscan = on;
		SET LOCAL enable_indexscan = off;
		EXECUTE format('SELECT ARRAY(SELECT id FROM %s WHERE %s ORDER BY l2_distance(emb, $1), id LIMIT 10)',
					   tbl, cond)
			INTO ex USING q;
		SET LOCAL enable_indexscan = on;
		total := total + 1;
		IF idx = ex THEN same := same + 1; END IF;
	END LOOP;
	RETURN same || ' of ' || total;
END $$;

-- regress.copy_binary_cases(raw, target): each row (id, b bytea) of raw, a
-- COPY BINARY file's bytes, copied into target on its own; a NOTICE says
-- whether it was accepted or with what error.
CREATE PROCEDURE regress.copy_binary_cases(raw regclass, target regclass) LANGUAGE plpgsql AS $$
DECLARE
	r record;
	file text := '/tmp/gigavector_' || raw::text || '.bin';
BEGIN
	FOR r IN EXECUTE format('SELECT id FROM %s ORDER BY id', raw) LOOP
		EXECUTE format('COPY (SELECT b FROM %s WHERE id = %s) TO %L WITH (FORMAT binary)',
					   raw, r.id, file);
		BEGIN
			EXECUTE format('COPY %s FROM %L WITH (FORMAT binary)', target, file);
			RAISE NOTICE 'case %: accepted', r.id;
		EXCEPTION WHEN OTHERS THEN
			RAISE NOTICE 'case %: % (%)', r.id, SQLERRM, SQLSTATE;
		END;
	END LOOP;
END $$;
RESET client_min_messages;
