-- gv_ivfpq filter columns (src/gvfilter.c): =, ranges, BETWEEN, IN / = ANY,
-- IS [NOT] NULL on integers, floats, dates, timestamptz and text, and jsonb
-- @> and ->> as index conditions, tested on each list entry's codes.  Every
-- answer is compared with the exact one of a sequential scan, at
-- selectivities from 0.1% to 90%.
CREATE TABLE ivf (id int PRIMARY KEY, label int, sel int, price float8, day date,
                  ts timestamptz, tag text, meta jsonb, emb gvector(16))
	WITH (autovacuum_enabled = off);
-- ten clusters, one a label; sel spreads the rows evenly over 0..999
INSERT INTO ivf SELECT i, CASE WHEN i % 101 = 0 THEN NULL ELSE i % 10 END, (i * 7919) % 1000,
       CASE WHEN i % 53 = 0 THEN NULL ELSE ((i * 31) % 400) / 4.0 END,
       date '2026-01-01' + i % 60,
       timestamptz '2026-01-01 00:00+00' + (i % 96) * interval '30 minutes',
       'tag' || (i % 13),
       jsonb_build_object('cat', chr(65 + i % 4), 'n', i % 9, 'flag', i % 2 = 0),
       ARRAY(SELECT (i % 10) * 0.5 + 0.3 * sin(i * (d + 1) * 0.37) FROM generate_series(0, 15) d)::real[]::gvector
FROM generate_series(1, 10000) i;
CREATE INDEX ivf_idx ON ivf USING gv_ivfpq (emb gvector_l2_ops, label, sel, price, day, ts, tag, meta)
	WITH (lists = 50);
ANALYZE ivf;
SELECT trained, lists, entries FROM gigavector.ivfpq_info('ivf_idx');
SET enable_seqscan = off;
-- the conditions the index tests itself
EXPLAIN (COSTS OFF) SELECT id FROM ivf WHERE label = 3 ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivf WHERE sel BETWEEN 10 AND 20 AND price < 50
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivf WHERE label IN (1, 2) AND tag = 'tag3'
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivf WHERE day >= '2026-02-01' AND ts < '2026-01-02 00:00+00'
	AND price IS NOT NULL ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivf WHERE meta @> '{"cat": "B"}'
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivf WHERE meta ->> 'cat' = 'C'
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
-- a condition on a column not in the index stays a filter
EXPLAIN (COSTS OFF) SELECT id FROM ivf WHERE id % 7 = 0 AND label = 2
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
-- no index holds NULL vectors: "emb IS NULL" is never an index scan
EXPLAIN (COSTS OFF) SELECT id FROM ivf WHERE emb IS NULL
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
-- For each condition, 21 queries (rows of every label):
-- how many of the index's top 10 are the exact top 10 in the exact order,
-- and the recall of the top 10 over all of them.
CREATE FUNCTION ivf_agree(cond text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	same int := 0;
	found int := 0;
	total int := 0;
	queries int := 0;
	idx int[];
	ex int[];
	q gvector;
BEGIN
	FOR q IN SELECT emb FROM ivf WHERE id % 499 = 7 LOOP
		SET LOCAL enable_seqscan = off;
		EXECUTE format('SELECT ARRAY(SELECT id FROM ivf WHERE %s ORDER BY emb <-> $1 LIMIT 10)', cond)
			INTO idx USING q;
		SET LOCAL enable_seqscan = on;
		SET LOCAL enable_indexscan = off;
		SET LOCAL enable_bitmapscan = off;
		EXECUTE format('SELECT ARRAY(SELECT id FROM ivf WHERE %s ORDER BY l2_distance(emb, $1), id LIMIT 10)', cond)
			INTO ex USING q;
		SET LOCAL enable_indexscan = on;
		queries := queries + 1;
		IF idx = ex THEN same := same + 1; END IF;
		found := found + (SELECT count(*) FROM unnest(idx) x WHERE x = ANY(ex));
		total := total + cardinality(ex);
	END LOOP;
	RETURN same || ' of ' || queries || ' exact, recall ' || CASE WHEN total = 0 THEN 'n/a (no rows)'
		WHEN found::float8 / total >= 0.95 THEN '>= 0.95' ELSE round(found::numeric / total, 3)::text END;
END $$;
SELECT cond, ivf_agree(cond) FROM unnest(ARRAY[
	-- selectivity of sel < n: n / 1000
	'sel < 1', 'sel < 10', 'sel < 100', 'sel < 500', 'sel < 900',
	'sel BETWEEN 100 AND 109', 'sel >= 995', 'sel <= 3', 'sel > 10',
	'label = 3', 'label = 7 AND sel < 100', 'label IN (1, 2)', 'label = ANY(''{4,9}''::bigint[])',
	'label IN (5, NULL)', 'label IS NULL', 'label IS NOT NULL AND sel < 20', 'label > ANY(''{7, 8}'')',
	'price < 1', 'price >= 99.5', 'price BETWEEN 10 AND 10.25', 'price IS NULL', 'price = 50',
	'day = ''2026-01-05''', 'day > ''2026-02-25''', 'day BETWEEN ''2026-01-10'' AND ''2026-01-12''',
	'ts >= ''2026-01-02 23:00+00''', 'ts < ''2026-01-01 01:00+00'' AND day < ''2026-01-10''',
	'tag = ''tag5''', 'tag IN (''tag1'', ''tag12'') AND sel < 200',
	'meta @> ''{"cat": "B"}''', 'meta @> ''{"cat": "A", "n": 4}''', 'meta @> ''{"flag": true}'' AND label = 2',
	'meta ->> ''cat'' = ''D''', 'meta ->> ''n'' = ''8'' AND sel < 300', 'meta ? ''cat''',
	-- a filter the index cannot test, and one it tests beside it
	'id % 100 = 3', 'id % 20 = 2 AND label = 2']) cond;
-- the hard case: queries filtered to another label than their own
SELECT ivf_agree('label = 6'), ivf_agree('label = 9 AND sel < 50');
-- every matching row comes back when the LIMIT is larger than their count
SELECT count(*) FROM (SELECT id FROM ivf WHERE sel = 5
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 100) s;
SELECT count(*) FROM (SELECT id FROM ivf WHERE label IS NULL
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 1000) s;
-- conditions no row meets: no rows, no error
SELECT count(*) FROM (SELECT id FROM ivf WHERE label = NULL ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM ivf WHERE sel < NULL ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM ivf WHERE label = ANY('{}'::int[]) ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM ivf WHERE label = ANY('{NULL}'::int[]) ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM ivf WHERE label = ANY(NULL::int[]) ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM ivf WHERE sel > 5 AND sel < 3 ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM ivf WHERE emb IS NULL ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5) s;
-- a value of the wrong type is the type's own error
SELECT id FROM ivf WHERE label = 'three' ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
SELECT id FROM ivf WHERE day < 'yesterday-ish' ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
-- rows inserted after the build carry their codes; VACUUM drops the dead ones
INSERT INTO ivf SELECT i, 42, 2000, 1000 + i, '2027-01-01', '2027-01-01 00:00+00', 'new',
	'{"cat": "Z"}', ARRAY(SELECT 0.01 * i + d FROM generate_series(0, 15) d)::real[]::gvector
FROM generate_series(10001, 10020) i;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM ivf WHERE label = 42 AND price < 11010
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 50) s;
SELECT ivf_agree('label = 42'), ivf_agree('meta @> ''{"cat": "Z"}'''), ivf_agree('sel >= 2000 OR sel < 2');
DELETE FROM ivf WHERE id % 2 = 0 AND (label = 42 OR sel < 10);
VACUUM ivf;
SELECT entries FROM gigavector.ivfpq_info('ivf_idx');
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM ivf WHERE label = 42
	ORDER BY emb <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 50) s;
SELECT ivf_agree('sel < 10'), ivf_agree('label = 42 OR sel < 3');
RESET enable_seqscan;
-- an index built on an empty table (untrained) still has the codes
CREATE TABLE ivf_empty (emb gvector(4), label int, tag text);
CREATE INDEX ivf_empty_idx ON ivf_empty USING gv_ivfpq (emb, label, tag);
INSERT INTO ivf_empty SELECT ARRAY[i, 0, 0, 0]::real[]::gvector, i % 3, 't' || (i % 2)
FROM generate_series(1, 30) i;
SET enable_seqscan = off;
SELECT array_agg(label || tag) FROM (SELECT label, tag FROM ivf_empty WHERE label = 1 AND tag = 't0'
	ORDER BY emb <-> '[0,0,0,0]' LIMIT 4) s;
RESET enable_seqscan;
-- what a filter column cannot be
CREATE INDEX ON ivf USING gv_ivfpq (label, emb);
CREATE INDEX ON ivf USING gv_ivfpq (emb, emb);
CREATE INDEX ON ivf USING gv_ivfpq (emb, label, sel, price, day, ts, tag, meta, id, label);
CREATE INDEX ON ivf USING gv_ivfpq (emb, tag COLLATE "C", (tag::bytea));
SELECT amvalidate(oid) FROM pg_opclass WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'gv_ivfpq')
	GROUP BY 1;
DROP TABLE ivf, ivf_empty;
DROP FUNCTION ivf_agree(text);
