-- gv_ivfpq: build, options, scans, filters, maintenance and errors.
-- Small tables and a re-rank depth covering them, so results are exact.
SET gigavector.ivfpq_rerank = 5000;
SET gigavector.ivfpq_probes = 1;

-- l2
CREATE TABLE ivfpq_t (id int, v gvector(4));
INSERT INTO ivfpq_t SELECT i, ARRAY[i % 10, i / 100, (i * 7) % 13, i % 3]::real[]::gvector(4)
	FROM generate_series(1, 3000) i;
INSERT INTO ivfpq_t VALUES (0, NULL);
CREATE INDEX ivfpq_t_l2 ON ivfpq_t USING gv_ivfpq (v gvector_l2_ops)
	WITH (lists = 20, subquantizers = 2, bits = 6);
SELECT trained, lists, subquantizers, bits, entries FROM gigavector.ivfpq_info('ivfpq_t_l2');
ANALYZE ivfpq_t;
RESET gigavector.ivfpq_rerank;
RESET gigavector.ivfpq_probes;
EXPLAIN (COSTS OFF) SELECT id FROM ivfpq_t ORDER BY v <-> '[3,3,3,1]' LIMIT 5;
-- no LIMIT, or another operator than the class's: not the index
EXPLAIN (COSTS OFF) SELECT id FROM ivfpq_t ORDER BY v <-> '[3,3,3,1]';
EXPLAIN (COSTS OFF) SELECT id FROM ivfpq_t ORDER BY v <=> '[3,3,3,1]' LIMIT 5;
-- a filter that keeps almost nothing: an exact plan
CREATE INDEX ON ivfpq_t (id);
EXPLAIN (COSTS OFF) SELECT id FROM ivfpq_t WHERE id < 10 ORDER BY v <-> '[3,3,3,1]' LIMIT 5;
SET gigavector.ivfpq_rerank = 5000;
SET gigavector.ivfpq_probes = 1;
CREATE FUNCTION ivfpq_knn(q gvector, k int, f int) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(round(d::numeric, 4)::text, ',') FROM
		(SELECT v <-> q AS d FROM ivfpq_t WHERE id % f = 0 ORDER BY v <-> q LIMIT k) s $$;
CREATE FUNCTION ivfpq_exact(q gvector, k int, f int) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(round(d::numeric, 4)::text, ',') FROM
		(SELECT (v <-> q) + 0 AS d FROM ivfpq_t WHERE id % f = 0 ORDER BY 1 LIMIT k) s $$;
SET enable_seqscan = off;
SET enable_sort = off;
-- one list probed, its rows re-ranked: exact order within
SELECT ivfpq_knn('[3,3,3,1]', 5, 1);
-- all lists probed: the exact answer
SET gigavector.ivfpq_probes = 20;
SELECT ivfpq_knn('[3,3,3,1]', 8, 1) = ivfpq_exact('[3,3,3,1]', 8, 1) AS exact;
SELECT ivfpq_knn('[9,29,0,2]', 8, 1) = ivfpq_exact('[9,29,0,2]', 8, 1) AS exact;
-- the NULL row is not indexed; every other row comes back
SELECT count(*) FROM (SELECT id FROM ivfpq_t ORDER BY v <-> '[0,0,0,0]' LIMIT 5000) s;
-- filtered: k rows although the filter rejects most of a batch
SET gigavector.ivfpq_probes = 1;
SET gigavector.ivfpq_rerank = 10;
SELECT count(*) FROM (SELECT id FROM ivfpq_t WHERE id % 50 = 0 ORDER BY v <-> '[3,3,3,1]' LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM ivfpq_t WHERE id % 50 = 0 ORDER BY v <-> '[3,3,3,1]' LIMIT 60) s;
-- ... in exact order across re-rank batches and lists: the distances are
-- those of an exact scan (10 rows need several batches of 10 and more lists)
SELECT ivfpq_knn('[3,3,3,1]', 10, 50) = ivfpq_exact('[3,3,3,1]', 10, 50) AS exact;
SELECT ivfpq_knn('[9,29,0,2]', 30, 50) = ivfpq_exact('[9,29,0,2]', 30, 50) AS exact;
SELECT ivfpq_knn('[0,0,12,0]', 20, 7) = ivfpq_exact('[0,0,12,0]', 20, 7) AS exact;
-- ... a filter keeping 1% of the rows
SELECT ivfpq_knn('[3,3,3,1]', 10, 100) = ivfpq_exact('[3,3,3,1]', 10, 100) AS exact;
SELECT ivfpq_knn('[5,15,6,0]', 10, 100) = ivfpq_exact('[5,15,6,0]', 10, 100) AS exact;
-- ... a filter keeping fewer rows than the LIMIT: all of them, in order
SELECT ivfpq_knn('[3,3,3,1]', 10, 1000);
SELECT ivfpq_knn('[3,3,3,1]', 10, 1000) = ivfpq_exact('[3,3,3,1]', 10, 1000) AS exact;
-- ... bounded by ivfpq_max_probes
SET gigavector.ivfpq_max_probes = 1;
SELECT count(*) <= 60 FROM (SELECT id FROM ivfpq_t WHERE id % 50 = 0 ORDER BY v <-> '[3,3,3,1]' LIMIT 60) s;
RESET gigavector.ivfpq_max_probes;
SET gigavector.ivfpq_rerank = 5000;
SET gigavector.ivfpq_probes = 20;
RESET enable_sort;

-- inserts, deletes and vacuum
INSERT INTO ivfpq_t SELECT i, ARRAY[i % 10, i / 100, (i * 7) % 13, i % 3]::real[]::gvector(4)
	FROM generate_series(3001, 4000) i;
DELETE FROM ivfpq_t WHERE id % 3 = 0;
VACUUM ivfpq_t;
SELECT entries FROM gigavector.ivfpq_info('ivfpq_t_l2');
SELECT ivfpq_knn('[5,35,6,1]', 8, 1) = ivfpq_exact('[5,35,6,1]', 8, 1) AS exact_after_churn;
-- VACUUM packs the pages of the lists' insert chains, whose freed space the
-- same rows inserted again reuse, and leaves tombstones on the build's shared
-- pages, which scans skip
DELETE FROM ivfpq_t WHERE id > 3000;
VACUUM ivfpq_t;
SELECT pages AS pages_emptied, entries FROM gigavector.ivfpq_info('ivfpq_t_l2') \gset
SELECT :entries AS entries;
INSERT INTO ivfpq_t SELECT i, ARRAY[i % 10, i / 100, (i * 7) % 13, i % 3]::real[]::gvector(4)
	FROM generate_series(3001, 4000) i WHERE i % 3 <> 0;
SELECT pages = :pages_emptied AS insert_pages_reused, entries FROM gigavector.ivfpq_info('ivfpq_t_l2');
SELECT ivfpq_knn('[5,35,6,1]', 8, 1) = ivfpq_exact('[5,35,6,1]', 8, 1) AS exact_after_reuse;
RESET enable_seqscan;

-- defaults derived from the data
CREATE INDEX ivfpq_t_default ON ivfpq_t USING gv_ivfpq (v);
SELECT trained, lists, subquantizers, bits FROM gigavector.ivfpq_info('ivfpq_t_default');
DROP INDEX ivfpq_t_default;

-- cosine and inner product
CREATE TABLE ivfpq_c (id int, v gvector(4));
INSERT INTO ivfpq_c SELECT i, ARRAY[1 + i % 10, i / 100, (i * 7) % 13, 1]::real[]::gvector(4)
	FROM generate_series(1, 2000) i;
CREATE INDEX ON ivfpq_c USING gv_ivfpq (v gvector_cosine_ops) WITH (lists = 10);
CREATE INDEX ON ivfpq_c USING gv_ivfpq (v gvector_ip_ops) WITH (lists = 10);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivfpq_c ORDER BY v <=> '[1,2,3,4]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivfpq_c ORDER BY v <#> '[1,2,3,4]' LIMIT 5;
CREATE TEMP TABLE ivfpq_r AS SELECT 'cos' AS m, array_agg(round((v <=> '[1,2,3,4]')::numeric, 5)) a
	FROM (SELECT v FROM ivfpq_c ORDER BY v <=> '[1,2,3,4]' LIMIT 6) s;
INSERT INTO ivfpq_r SELECT 'ip', array_agg(round((v <#> '[1,2,3,4]')::numeric, 3))
	FROM (SELECT v FROM ivfpq_c ORDER BY v <#> '[1,2,3,4]' LIMIT 6) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT m, a = (CASE m
	WHEN 'cos' THEN (SELECT array_agg(round(d::numeric, 5)) FROM (SELECT v <=> '[1,2,3,4]' d FROM ivfpq_c ORDER BY 1 LIMIT 6) s)
	ELSE (SELECT array_agg(round(d::numeric, 3)) FROM (SELECT v <#> '[1,2,3,4]' d FROM ivfpq_c ORDER BY 1 LIMIT 6) s) END) AS exact
	FROM ivfpq_r ORDER BY m;
RESET enable_indexscan;
-- ... filtered, over several batches and lists (probes 1, rerank 10): exact
SET gigavector.ivfpq_probes = 1;
SET gigavector.ivfpq_rerank = 10;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivfpq_c WHERE id % 20 = 0 ORDER BY v <#> '[1,2,3,4]' LIMIT 10;
CREATE TEMP TABLE ivfpq_rf AS
	SELECT 'cos' AS m, array_agg(round(d::numeric, 5)) a FROM (SELECT v <=> '[4,1,0,2]' d
		FROM ivfpq_c WHERE id % 20 = 0 ORDER BY v <=> '[4,1,0,2]' LIMIT 10) s
	UNION ALL
	SELECT 'ip', array_agg(round(d::numeric, 3)) FROM (SELECT v <#> '[4,1,0,2]' d
		FROM ivfpq_c WHERE id % 20 = 0 ORDER BY v <#> '[4,1,0,2]' LIMIT 10) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT m, a = (CASE m
	WHEN 'cos' THEN (SELECT array_agg(round(d::numeric, 5)) FROM (SELECT v <=> '[4,1,0,2]' d FROM ivfpq_c WHERE id % 20 = 0 ORDER BY 1 LIMIT 10) s)
	ELSE (SELECT array_agg(round(d::numeric, 3)) FROM (SELECT v <#> '[4,1,0,2]' d FROM ivfpq_c WHERE id % 20 = 0 ORDER BY 1 LIMIT 10) s) END) AS exact
	FROM ivfpq_rf ORDER BY m;
RESET enable_indexscan;
SET gigavector.ivfpq_probes = 20;
SET gigavector.ivfpq_rerank = 5000;

-- an empty table: an untrained index, with a notice, that works after inserts
CREATE TABLE ivfpq_e (id int, v gvector(3));
CREATE INDEX ivfpq_e_idx ON ivfpq_e USING gv_ivfpq (v);
INSERT INTO ivfpq_e SELECT i, ARRAY[i, i % 7, 1]::real[]::gvector(3) FROM generate_series(1, 100) i;
SELECT trained, lists, entries FROM gigavector.ivfpq_info('ivfpq_e_idx');
SET enable_seqscan = off;
SELECT id FROM ivfpq_e ORDER BY v <-> '[50,1,1]' LIMIT 3;
RESET enable_seqscan;
REINDEX INDEX ivfpq_e_idx;
SELECT trained, entries FROM gigavector.ivfpq_info('ivfpq_e_idx');

-- errors
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (lists = 40000);
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (bits = 9);
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (subquantizers = 3);
CREATE INDEX ON ivfpq_e USING gv_ivfpq (v) WITH (lists = 500);
CREATE INDEX ON ivfpq_e USING gv_ivfpq (v) WITH (bits = 8);
CREATE INDEX ON ivfpq_e USING gv_ivfpq ((v::text::gvector(3)));
INSERT INTO ivfpq_e VALUES (1000, '[1,2]');
CREATE TABLE ivfpq_nodim (v gvector);
INSERT INTO ivfpq_nodim VALUES ('[1,2,3]'), ('[1,2]');
CREATE INDEX ON ivfpq_nodim USING gv_ivfpq (v);
-- the same build run CONCURRENTLY leaves an invalid index without a page,
-- which ivfpq_info names as such
CREATE INDEX CONCURRENTLY ivfpq_nodim_cic ON ivfpq_nodim USING gv_ivfpq (v);
SELECT indisvalid, pg_relation_size(indexrelid) FROM pg_index
	WHERE indexrelid = 'ivfpq_nodim_cic'::regclass;
SELECT * FROM gigavector.ivfpq_info('ivfpq_nodim_cic');
DROP INDEX ivfpq_nodim_cic;
SET gigavector.ivfpq_probes = 0;

-- training_table: lists and codebooks trained on a chosen sample
CREATE SCHEMA ivfpq_s;
CREATE TABLE ivfpq_s.train (note text, v gvector(4));
INSERT INTO ivfpq_s.train SELECT 'x', ARRAY[i % 10, i / 100, (i * 7) % 13, i % 3]::real[]::gvector(4)
	FROM generate_series(1, 3000, 3) i;
CREATE INDEX ivfpq_t_tt ON ivfpq_t USING gv_ivfpq (v)
	WITH (lists = 10, subquantizers = 2, bits = 6, training_table = 'ivfpq_s.train');
SELECT trained, lists, subquantizers, bits, entries FROM gigavector.ivfpq_info('ivfpq_t_tt');
SET enable_seqscan = off;
SELECT ivfpq_knn('[3,3,3,1]', 8, 1) = ivfpq_exact('[3,3,3,1]', 8, 1) AS exact;
RESET enable_seqscan;
-- a named column, quoted identifiers; REINDEX reads the table again
CREATE TABLE ivfpq_s."Train2" (a gvector(4), "B" gvector(4));
INSERT INTO ivfpq_s."Train2" SELECT v, v FROM ivfpq_s.train;
ALTER INDEX ivfpq_t_tt SET (training_table = 'ivfpq_s."Train2"("B")');
REINDEX INDEX ivfpq_t_tt;
SELECT trained, lists, entries FROM gigavector.ivfpq_info('ivfpq_t_tt');
-- the index depends on the table it was last trained on (pg_restore -j
-- orders by this), so that table cannot be dropped from under it
SELECT refobjid::regclass, deptype FROM pg_depend
	WHERE objid = 'ivfpq_t_tt'::regclass AND refclassid = 'pg_class'::regclass AND refobjsubid = 0;
DROP TABLE ivfpq_s."Train2";
ALTER INDEX ivfpq_t_tt RESET (training_table);
REINDEX INDEX ivfpq_t_tt;
SELECT count(*) FROM pg_depend
	WHERE objid = 'ivfpq_t_tt'::regclass AND refclassid = 'pg_class'::regclass AND refobjsubid = 0;
DROP INDEX ivfpq_t_tt;
-- an empty table with a training table: trained at once
CREATE TABLE ivfpq_e2 (id int, v gvector(4));
CREATE INDEX ivfpq_e2_idx ON ivfpq_e2 USING gv_ivfpq (v) WITH (lists = 4, bits = 4, training_table = 'ivfpq_s.train');
INSERT INTO ivfpq_e2 SELECT i, ARRAY[i % 10, i / 100, (i * 7) % 13, i % 3]::real[]::gvector(4)
	FROM generate_series(1, 300) i;
SELECT trained, lists, entries FROM gigavector.ivfpq_info('ivfpq_e2_idx');
-- errors
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s.missing');
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'a.b.c.d');
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s.train(v');
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s.train(nope)');
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s.train(note)');
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s."Train2"');
CREATE TABLE ivfpq_s.novec (id int);
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s.novec');
CREATE TABLE ivfpq_s.dim3 (v gvector(3));
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s.dim3');
CREATE TABLE ivfpq_s.anydim (v gvector);
INSERT INTO ivfpq_s.anydim VALUES ('[1,2,3]');
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s.anydim');
TRUNCATE ivfpq_s.anydim;
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s.anydim');
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (lists = 2000, training_table = 'ivfpq_s.train');
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (lists = 10, training_table = 'ivfpq_s.train(v)', subquantizers = 2);
CREATE VIEW ivfpq_s.view AS SELECT v FROM ivfpq_s.train;
CREATE INDEX ON ivfpq_t USING gv_ivfpq (v) WITH (training_table = 'ivfpq_s.view');
DROP SCHEMA ivfpq_s CASCADE;

-- above 2,000 dimensions (pgvector's ivfflat limit): 3,000
CREATE TABLE ivfpq_big (id int, v gvector(3000));
SELECT setseed(0.5);
INSERT INTO ivfpq_big SELECT i, array_agg(random()::real)::gvector(3000)
	FROM generate_series(1, 1500) i, generate_series(1, 3000) d GROUP BY i;
CREATE INDEX ivfpq_big_idx ON ivfpq_big USING gv_ivfpq (v) WITH (lists = 8, bits = 4);
SELECT trained, lists, subquantizers, bits, entries FROM gigavector.ivfpq_info('ivfpq_big_idx');
SET enable_seqscan = off;
SET gigavector.ivfpq_probes = 8;
SET gigavector.ivfpq_rerank = 2000;
SELECT array_agg(id) = (SELECT array_agg(id) FROM (SELECT b.id FROM ivfpq_big b, ivfpq_big q WHERE q.id = 7
		ORDER BY (b.v <-> q.v) + 0 LIMIT 5) e) AS exact
	FROM (SELECT b.id FROM ivfpq_big b ORDER BY b.v <-> (SELECT v FROM ivfpq_big WHERE id = 7) LIMIT 5) s;
INSERT INTO ivfpq_big SELECT 2000, v FROM ivfpq_big WHERE id = 7;
SELECT count(*) FROM (SELECT id FROM ivfpq_big ORDER BY v <-> (SELECT v FROM ivfpq_big WHERE id = 7) LIMIT 2000) s;
RESET enable_seqscan;
SET gigavector.ivfpq_probes = 20;
SET gigavector.ivfpq_rerank = 5000;
DROP TABLE ivfpq_big;

DROP TABLE ivfpq_t, ivfpq_c, ivfpq_e, ivfpq_e2, ivfpq_nodim;
DROP FUNCTION ivfpq_knn, ivfpq_exact;
