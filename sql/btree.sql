-- comparison: DISTINCT, GROUP BY, ORDER BY, unique indexes, hash joins

SELECT '[1,2]'::gvector < '[1,3]'::gvector AS lt,
       '[1,2]'::gvector <= '[1,2]'::gvector AS le,
       '[1,2]'::gvector = '[1,2]'::gvector AS eq,
       '[1,2]'::gvector <> '[1,2,0]'::gvector AS ne,
       '[2]'::gvector > '[1,9]'::gvector AS gt,
       '[1,2]'::gvector >= '[1,2]'::gvector AS ge;
SELECT '[0]'::gvector = '[-0]'::gvector AS zero_eq_negzero;
SELECT gvector_cmp('[1,2]', '[1,2,3]'), gvector_cmp('[1,2,3]', '[1,2]'), gvector_cmp('[1]', '[1]');

CREATE TABLE t_cmp (v gvector);
INSERT INTO t_cmp VALUES ('[1,2]'), ('[1,2]'), ('[1,2,3]'), ('[0,5]'), ('[1]'), (NULL);
SELECT v FROM t_cmp ORDER BY v;
SELECT DISTINCT v FROM t_cmp ORDER BY v;
SELECT v, count(*) FROM t_cmp GROUP BY v ORDER BY v;

-- hash aggregation and hash joins agree with sorting
SET enable_sort = off;
SELECT v, count(*) FROM t_cmp GROUP BY v ORDER BY count(*) DESC, v;
RESET enable_sort;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM t_cmp a JOIN t_cmp b ON a.v = b.v;
SELECT count(*) FROM t_cmp a JOIN t_cmp b ON a.v = b.v;
RESET enable_mergejoin;
RESET enable_nestloop;
SELECT gvector_hash('[0,1]') = gvector_hash('[-0,1]') AS hash_consistent;

-- btree index and uniqueness
CREATE UNIQUE INDEX ON t_cmp (v);
DELETE FROM t_cmp WHERE v IN ('[1,2]', '[0,5]');
CREATE UNIQUE INDEX t_cmp_v_key ON t_cmp (v);
INSERT INTO t_cmp VALUES ('[1,2,3]');
INSERT INTO t_cmp VALUES ('[-0,5]');
INSERT INTO t_cmp VALUES ('[0,5]');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT v FROM t_cmp WHERE v = '[1]';
SELECT v FROM t_cmp WHERE v = '[1]';
RESET enable_seqscan;
DROP TABLE t_cmp;
