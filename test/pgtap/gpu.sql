-- GPU search's SQL contract: objects, settings, privileges, and the SQLSTATE
-- of every bad input (src/worker/gpusql.c, sql/install/80_gpu.sql).
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION gigavector;

SELECT plan(33);

-- objects
SELECT has_table('gigavector', 'gpu_collections', 'catalog table gigavector.gpu_collections');
SELECT has_view('gigavector', 'gpu_status', 'view gigavector.gpu_status');
SELECT columns_are('gigavector', 'gpu_status',
	ARRAY['tbl', 'column_name', 'use_float16', 'vectors', 'dimensions', 'bytes', 'queries_served',
		  'current', 'backend', 'process'], 'gpu_status columns');
SELECT has_function('gigavector', 'gpu_load', ARRAY['regclass', 'name', 'boolean'], 'gpu_load(regclass, name, boolean)');
SELECT has_function('gigavector', 'gpu_unload', ARRAY['regclass', 'name'], 'gpu_unload(regclass, name)');
SELECT has_function('gigavector', 'gpu_search', ARRAY['regclass', 'name', 'gvector', 'integer', 'text'], 'gpu_search');
SELECT has_function('gigavector', 'gpu_search_batch', ARRAY['regclass', 'name', 'gvector[]', 'integer', 'text'], 'gpu_search_batch');
SELECT has_function('gigavector', 'gpu_available', ARRAY[]::text[], 'gpu_available()');
SELECT has_function('gigavector', 'gpu_device_count', ARRAY[]::text[], 'gpu_device_count()');
SELECT has_function('gigavector', 'gpu_device_info', ARRAY['integer'], 'gpu_device_info(integer)');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'gigavector'::regnamespace
		   AND proname LIKE 'gpu%' AND obj_description(oid, 'pg_proc') IS NULL), 0,
		  'every gpu function has a comment');
SELECT is(current_setting('gigavector.gpu'), 'auto', 'gigavector.gpu defaults to auto');
SELECT is(current_setting('gigavector.gpu_memory_limit'), '0', 'no memory limit by default');
SELECT is((SELECT context FROM pg_settings WHERE name = 'gigavector.gpu'), 'sighup', 'gigavector.gpu is reloadable');
SELECT is(current_setting('gigavector.gpu_cpu_threads'), '0', 'the CPU backend uses one thread per CPU by default');
SELECT is((SELECT context FROM pg_settings WHERE name = 'gigavector.gpu_cpu_threads'), 'superuser',
		  'CPU backend threads are set by superusers');
SELECT is((SELECT context FROM pg_settings WHERE name = 'gigavector.gpu_test_delay_ms'), 'superuser',
		  'the test delay is for superusers');
SELECT is(gigavector.gpu_device_count(), 0, 'no device without the worker');

-- bad input, each with its SQLSTATE
CREATE TABLE gpu_t (id bigint PRIMARY KEY, v gvector(2), t text);
INSERT INTO gpu_t VALUES (1, '[1,2]', 'a'), (2, '[3,4]', 'b');
SELECT is(gigavector.gpu_load('gpu_t', 'v'), 2::bigint, 'gpu_load returns the rows loaded');
SELECT throws_ok($$SELECT * FROM gigavector.gpu_search('gpu_t', 'v', '[1,2]', 0)$$, '22023',
				 'k must be between 1 and 1024, not 0', 'k = 0');
SELECT throws_ok($$SELECT * FROM gigavector.gpu_search('gpu_t', 'v', '[1,2]', 2000)$$, '22023',
				 'k must be between 1 and 1024, not 2000', 'k > 1024');
SELECT throws_ok($$SELECT * FROM gigavector.gpu_search('gpu_t', 'v', '[1,2]', 1, 'l1')$$, '22023',
				 'unknown distance "l1"', 'an unknown distance');
SELECT throws_ok($$SELECT * FROM gigavector.gpu_search('gpu_t', 'v', '[1,2,3]', 1)$$, '22000',
				 'different gvector dimensions 3 and 2', 'a query of another dimension');
SELECT throws_ok($$SELECT * FROM gigavector.gpu_search_batch('gpu_t', 'v', ARRAY[NULL]::gvector[], 1)$$, '22004',
				 'query 1 of the batch is null', 'a null query in a batch');
SELECT throws_ok($$SELECT * FROM gigavector.gpu_search('gpu_t', 't', '[1,2]', 1)$$, '55000',
				 'column "t" of table "gpu_t" is not loaded for GPU search', 'a column not loaded');
SELECT throws_ok($$SELECT gigavector.gpu_load('gpu_t', 't')$$, '42804', NULL, 'a column that is no gvector');
SELECT throws_ok($$SELECT gigavector.gpu_load('gpu_t', 'nope')$$, '42703', NULL, 'a missing column');
CREATE TABLE gpu_nopk (id bigint, v gvector(2));
SELECT throws_ok($$SELECT gigavector.gpu_load('gpu_nopk', 'v')$$, '42P16', NULL, 'no integer primary key');
CREATE TABLE gpu_rls (id bigint PRIMARY KEY, v gvector(2));
ALTER TABLE gpu_rls ENABLE ROW LEVEL SECURITY;
SELECT throws_ok($$SELECT gigavector.gpu_load('gpu_rls', 'v')$$, '0A000', NULL, 'row-level security');
SELECT throws_ok($$SELECT gigavector.gpu_device_info(0)$$, '22023', 'GPU device 0 does not exist', 'no such device');

-- privileges: owners load, readers search
CREATE ROLE gpu_reader;
GRANT USAGE ON SCHEMA public TO gpu_reader;
SET LOCAL ROLE gpu_reader;
SELECT throws_ok($$SELECT * FROM gigavector.gpu_search('gpu_t', 'v', '[1,2]', 1)$$, '42501', NULL,
				 'searching needs SELECT');
SELECT throws_ok($$SELECT gigavector.gpu_load('gpu_t', 'v')$$, '42501', NULL, 'only the owner loads');
SELECT throws_ok($$SELECT gigavector.gpu_unload('gpu_t', 'v')$$, '42501', NULL, 'only the owner unloads');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
