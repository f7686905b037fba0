-- Bad input gets the right SQLSTATE and the exact message, on every path
-- in: text, casts, typmods, arithmetic and distances.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION gigavector;

SELECT plan(52);

-- malformed literals: 22P02 invalid_text_representation
SELECT throws_ok($$SELECT '[1,2'::gvector$$, '22P02', 'invalid input syntax for type gvector: "[1,2"', 'unterminated literal');
SELECT throws_ok($$SELECT '[1,,2]'::gvector$$, '22P02', 'invalid input syntax for type gvector: "[1,,2]"', 'empty element');
SELECT throws_ok($$SELECT '[a]'::gvector$$, '22P02', 'invalid input syntax for type gvector: "[a]"', 'not a number');
SELECT throws_ok($$SELECT '[1,2]x'::gvector$$, '22P02', 'invalid input syntax for type gvector: "[1,2]x"', 'trailing junk');
SELECT throws_ok($$SELECT '[1 2]'::gvector$$, '22P02', 'invalid input syntax for type gvector: "[1 2]"', 'missing comma');
SELECT throws_ok($$SELECT '1,2'::gvector$$, '22P02', 'invalid input syntax for type gvector: "1,2"', 'missing bracket');
SELECT throws_ok($$SELECT '[]'::gvector$$, '22P02', 'gvector must have at least 1 dimension', 'empty vector');

-- non-finite values: 22000 data_exception; out of float4 range: 22003
SELECT throws_ok($$SELECT '[NaN]'::gvector$$, '22000', 'NaN not allowed in gvector', 'NaN in text');
SELECT throws_ok($$SELECT '[Infinity]'::gvector$$, '22000', 'infinite value not allowed in gvector', 'Infinity in text');
SELECT throws_ok($$SELECT '[-Infinity]'::gvector$$, '22000', 'infinite value not allowed in gvector', '-Infinity in text');
SELECT throws_ok($$SELECT '[1e39]'::gvector$$, '22003', '"1e39" is out of range for type gvector', 'overflow in text');
SELECT throws_ok($$SELECT '[1e-50]'::gvector$$, '22003', '"1e-50" is out of range for type gvector', 'underflow in text');
SELECT throws_ok($$SELECT ARRAY['NaN']::real[]::gvector$$, '22000', 'NaN not allowed in gvector', 'NaN in real[] cast');
SELECT throws_ok($$SELECT ARRAY['-Infinity']::float8[]::gvector$$, '22000', 'infinite value not allowed in gvector', 'Infinity in float8[] cast');
SELECT throws_ok($$SELECT ARRAY['NaN']::numeric[]::gvector$$, '22000', 'NaN not allowed in gvector', 'NaN in numeric[] cast');
SELECT throws_ok($$SELECT ARRAY[1e39]::float8[]::gvector$$, '22003', 'value out of range: overflow', 'float8 overflow in cast');

-- dimensions: 54000 over the limit, 22000 for mismatches, 22023 for typmods
SELECT throws_ok($$SELECT array_fill(1, ARRAY[16001])::gvector$$, '54000', 'gvector cannot have more than 16000 dimensions', 'too many dimensions');
SELECT throws_ok($$SELECT '{}'::real[]::gvector$$, '22000', 'gvector must have at least 1 dimension', 'empty array');
SELECT throws_ok($$SELECT ARRAY[[1,2],[3,4]]::gvector$$, '22000', 'array must be one-dimensional', '2-D array');
SELECT throws_ok($$SELECT ARRAY[1,NULL]::gvector$$, '22004', 'array must not contain nulls', 'NULL element');
SELECT throws_ok($$SELECT '[1,2]'::gvector(3)$$, '22000', 'expected 3 dimensions, not 2', 'typmod mismatch');
SELECT throws_ok($$SELECT '[1]'::gvector(0)$$, '22023', 'dimensions for type gvector must be at least 1', 'typmod 0');
SELECT throws_ok($$SELECT '[1]'::gvector(16001)$$, '22023', 'dimensions for type gvector cannot exceed 16000', 'typmod too large');
SELECT throws_ok($$SELECT '[1,2]'::gvector <-> '[1,2,3]'$$, '22000', 'different gvector dimensions 2 and 3', 'L2 dimension mismatch');
SELECT throws_ok($$SELECT '[1,2]'::gvector <=> '[1,2,3]'$$, '22000', 'different gvector dimensions 2 and 3', 'cosine dimension mismatch');
SELECT throws_ok($$SELECT '[1,2]'::gvector <#> '[1,2,3]'$$, '22000', 'different gvector dimensions 2 and 3', 'inner product dimension mismatch');
SELECT throws_ok($$SELECT '[1,2]'::gvector + '[1,2,3]'$$, '22000', 'different gvector dimensions 2 and 3', 'addition dimension mismatch');
SELECT throws_ok($$SELECT avg(v) FROM (VALUES ('[1,2]'::gvector), ('[1]')) t(v)$$, '22000', 'different gvector dimensions 2 and 1', 'avg dimension mismatch');
-- ghalfvec's aggregates and array cast name ghalfvec (they share gvector's code)
SELECT throws_ok($$SELECT sum(v) FROM (VALUES ('[1,2]'::ghalfvec), ('[1]')) t(v)$$, '22000', 'different ghalfvec dimensions 2 and 1', 'ghalfvec sum dimension mismatch');
SELECT throws_ok($$SELECT ARRAY['NaN'::real]::ghalfvec$$, '22000', 'NaN not allowed in ghalfvec', 'ghalfvec array cast of NaN');
SELECT throws_ok($$SELECT '{}'::real[]::ghalfvec$$, '22000', 'ghalfvec must have at least 1 dimension', 'ghalfvec array cast of an empty array');

-- arithmetic overflow: 22003
SELECT throws_ok($$SELECT '[3e38]'::gvector + '[3e38]'$$, '22003', 'value out of range: overflow', 'addition overflow');
SELECT throws_ok($$SELECT '[1e-30]'::gvector * '[1e-30]'$$, '22003', 'value out of range: underflow', 'multiplication underflow');
SELECT throws_ok($$SELECT sum(v) FROM (VALUES ('[3e38]'::gvector), ('[3e38]')) t(v)$$, '22003', 'value out of range: overflow', 'sum overflow');
SELECT throws_ok($$SELECT subvector('[1,2]', 1, -1)$$, '22011', 'negative subvector length not allowed', 'negative subvector length');

-- the aggregates' state is internal: their support functions cannot be
-- called from SQL, and no one but a superuser can build an aggregate on them
SELECT throws_ok($$SELECT gvector_avg(ARRAY[1,'NaN']::float8[])$$, '42883',
				 'function gvector_avg(double precision[]) does not exist', 'avg final function with a NaN state');
SELECT throws_ok($$SELECT gvector_sum(ARRAY[1]::float8[])$$, '42883',
				 'function gvector_sum(double precision[]) does not exist', 'sum final function with a 0-dimension state');
SELECT throws_ok($$SELECT gvector_accum('{0}', '[1,2]')$$, '42883',
				 'function gvector_accum(unknown, unknown) does not exist', 'transition function called directly');
CREATE ROLE gv_errors_user;
CREATE TABLE gv_errors_items (v gvector(2));
INSERT INTO gv_errors_items VALUES ('[1,2]'), ('[3,4]');
CREATE INDEX gv_errors_hnsw ON gv_errors_items USING gv_hnsw (v);
CREATE SCHEMA gv_errors_user AUTHORIZATION gv_errors_user;
GRANT USAGE ON SCHEMA gigavector TO gv_errors_user;
SET ROLE gv_errors_user;
SELECT throws_ok($$CREATE AGGREGATE gv_errors_user.mean(gvector) (SFUNC = gvector_accum, STYPE = internal, FINALFUNC = gvector_avg)$$,
				 '42P13', 'aggregate transition data type cannot be internal', 'no user aggregate over the internal state');

-- checking functions: only for pg_stat_scan_tables; what they cannot check
-- is refused (an invalid index is what a failed CREATE INDEX CONCURRENTLY
-- leaves; marked so here, as a transaction cannot run one)
SELECT throws_ok($$SELECT * FROM gigavector.hnsw_verify('gv_errors_hnsw')$$, '42501',
				 'permission denied for function hnsw_verify', 'hnsw_verify is not for PUBLIC');
RESET ROLE;
GRANT pg_stat_scan_tables TO gv_errors_user;
SET ROLE gv_errors_user;
SELECT is((SELECT elements FROM gigavector.hnsw_verify('gv_errors_hnsw')), 2::bigint,
		  'pg_stat_scan_tables may run hnsw_verify');
RESET ROLE;
CREATE INDEX gv_errors_ivfpq ON gv_errors_items USING gv_ivfpq (v) WITH (lists = 1);
CREATE TABLE gv_errors_parted (id int, v gvector(2)) PARTITION BY RANGE (id);
CREATE INDEX gv_errors_parted_hnsw ON gv_errors_parted USING gv_hnsw (v);
SELECT throws_ok($$SELECT * FROM gigavector.hnsw_verify(0)$$, '42P01',
				 'relation with OID 0 does not exist', 'hnsw_verify of no relation');
SELECT throws_ok($$SELECT * FROM gigavector.hnsw_verify('gv_errors_items')$$, '42809',
				 '"gv_errors_items" is not a gv_hnsw index', 'hnsw_verify of a table');
SELECT throws_ok($$SELECT * FROM gigavector.hnsw_verify('gv_errors_ivfpq')$$, '42809',
				 '"gv_errors_ivfpq" is not a gv_hnsw index', 'hnsw_verify of another access method''s index');
SELECT throws_ok($$SELECT * FROM gigavector.ivfpq_info('gv_errors_hnsw')$$, '42809',
				 '"gv_errors_hnsw" is not a gv_ivfpq index', 'ivfpq_info of another access method''s index');
SELECT throws_ok($$SELECT * FROM gigavector.hnsw_verify('gv_errors_parted_hnsw')$$, '42809',
				 '"gv_errors_parted_hnsw" is a partitioned index', 'hnsw_verify of a partitioned index');
UPDATE pg_index SET indisvalid = false
	WHERE indexrelid IN ('gv_errors_hnsw'::regclass, 'gv_errors_ivfpq'::regclass);
SELECT throws_ok($$SELECT * FROM gigavector.hnsw_verify('gv_errors_hnsw')$$, '55000',
				 'index "gv_errors_hnsw" is not valid', 'hnsw_verify of an invalid index');
SELECT throws_ok($$SELECT * FROM gigavector.ivfpq_info('gv_errors_ivfpq')$$, '55000',
				 'index "gv_errors_ivfpq" is not valid', 'ivfpq_info of an invalid index');

-- documented results instead of errors
SELECT is('[0,0]'::gvector <=> '[1,1]', 1::float8, 'cosine distance with a zero vector is 1');
SELECT is('[0,0]'::gvector <=> '[0,0]', 1::float8, 'cosine distance between zero vectors is 1');
SELECT is(l2_normalize('[0,0]'), '[0,0]'::gvector, 'normalising a zero vector gives a zero vector');
SELECT is('[1e20]'::gvector <-> '[-1e20]', 2.0000000400817547e+20::float8,
		  'L2 distance whose float sum overflows is still finite and right');

SELECT * FROM finish();
ROLLBACK;
