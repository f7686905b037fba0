-- Index sizes of gv_hnsw: float32 against binary (gbit) at 256 dimensions,
-- and float32 at 128 dimensions.  psql -X -f test/bench/hnsw_sizes.sql (a database
-- where gigavector may be created; the tables are dropped at the end).
CREATE EXTENSION IF NOT EXISTS gigavector;
DROP TABLE IF EXISTS sz;
SELECT setseed(0.5);
CREATE TABLE sz AS SELECT i AS id, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 256) WHERE i > 0)::float4[]::gvector(256) AS v FROM generate_series(1, 9000) i;
ALTER TABLE sz ADD COLUMN b gbit(256);
UPDATE sz SET b = binary_quantize(v)::gbit(256);
CREATE INDEX sz_l2 ON sz USING gv_hnsw (v);
CREATE INDEX sz_ham ON sz USING gv_hnsw (b);
SELECT pg_relation_size('sz_l2') AS f32, pg_relation_size('sz_ham') AS bin, round(pg_relation_size('sz_l2')::numeric / pg_relation_size('sz_ham'), 3) AS ratio;
CREATE TABLE sz128 AS SELECT i AS id, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 128) WHERE i > 0)::float4[]::gvector(128) AS v FROM generate_series(1, 20000) i;
CREATE INDEX sz128_l2 ON sz128 USING gv_hnsw (v);
SELECT pg_relation_size('sz128_l2') AS f32_128d_20k, (pg_relation_size('sz128_l2') / 8192) AS pages;
DROP TABLE sz, sz128;
