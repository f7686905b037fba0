-- TTL's SQL contract: objects, settings, privileges, and the SQLSTATE of
-- every bad input (src/worker/ttl.c, sql/install/60_ttl.sql).
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION gigavector;

SELECT plan(42);

-- objects
SELECT has_table('gigavector', 'ttl_tables', 'catalog table gigavector.ttl_tables');
SELECT has_view('gigavector', 'ttl_stats', 'view gigavector.ttl_stats');
SELECT columns_are('gigavector', 'ttl_stats',
	ARRAY['table_name', 'ttl_column', 'default_ttl', 'rows_with_ttl', 'rows_expired',
		  'rows_deleted', 'last_run', 'last_error', 'last_error_at'], 'ttl_stats columns');
SELECT has_function('gigavector', 'enable_ttl', ARRAY['regclass', 'name', 'interval'], 'enable_ttl(regclass, name, interval)');
SELECT has_function('gigavector', 'disable_ttl', ARRAY['regclass'], 'disable_ttl(regclass)');
SELECT has_function('gigavector', 'set_ttl', ARRAY['regclass', 'text', 'interval'], 'set_ttl(regclass, text, interval)');
SELECT has_function('gigavector', 'set_ttl', ARRAY['regclass', 'bigint', 'interval'], 'set_ttl(regclass, bigint, interval)');
SELECT has_function('gigavector', 'ttl_cleanup', ARRAY['regclass'], 'ttl_cleanup(regclass)');
SELECT function_returns('gigavector', 'ttl_cleanup', ARRAY['regclass'], 'bigint', 'ttl_cleanup returns the rows deleted');
SELECT function_returns('gigavector', 'set_ttl', ARRAY['regclass', 'text', 'interval'], 'timestamp with time zone', 'set_ttl returns the new expiry');
SELECT is((SELECT pg_get_function_arguments('gigavector.enable_ttl'::regproc)),
		  'tbl regclass, "column" name DEFAULT ''expires_at''::name, default_ttl interval DEFAULT NULL::interval',
		  'enable_ttl defaults: column expires_at, no default TTL');
SELECT ok((SELECT NOT prosecdef FROM pg_proc WHERE oid = 'gigavector.ttl_cleanup'::regproc),
		  'ttl_cleanup runs as its caller');
SELECT ok((SELECT bool_and(NOT prosecdef) FROM pg_proc WHERE proname IN ('enable_ttl', 'disable_ttl', 'set_ttl')
		   AND pronamespace = 'gigavector'::regnamespace), 'enable_ttl, disable_ttl and set_ttl run as their caller');
SELECT is((SELECT count(*)::int FROM pg_event_trigger WHERE evtname = 'gv_ttl_forget_dropped' AND evtevent = 'sql_drop'),
		  1, 'an event trigger forgets dropped tables');
SELECT ok((SELECT extconfig @> ARRAY['gigavector.ttl_tables'::regclass::oid] FROM pg_extension WHERE extname = 'gigavector'),
		  'ttl_tables is extension configuration: pg_dump keeps its rows');

-- settings
SELECT is(current_setting('gigavector.ttl_cleanup_interval'), '1min', 'ttl_cleanup_interval defaults to 60 s');
SELECT is(current_setting('gigavector.ttl_batch_size'), '5000', 'ttl_batch_size defaults to 5000');
SELECT is((SELECT context FROM pg_settings WHERE name = 'gigavector.ttl_cleanup_interval'), 'sighup',
		  'ttl_cleanup_interval is reloaded on SIGHUP');
SELECT throws_ok($$SET gigavector.ttl_batch_size = 0$$, '22023',
				 '0 is outside the valid range for parameter "gigavector.ttl_batch_size" (1 .. 1000000)', 'batch size 0');
SELECT throws_ok($$SET gigavector.ttl_cleanup_interval = 5$$, '55P02',
				 'parameter "gigavector.ttl_cleanup_interval" cannot be changed now', 'interval is not a session setting');

-- privileges
SELECT ok(has_function_privilege('public', 'gigavector.ttl_cleanup(regclass)', 'EXECUTE'), 'PUBLIC may run ttl_cleanup');
SELECT ok(has_table_privilege('public', 'gigavector.ttl_stats', 'SELECT'), 'PUBLIC may read ttl_stats');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'gigavector.ttl_tables'::regclass),
		  'ttl_tables lets each role change only the rows of tables it owns');
SELECT ok(NOT gigavector.ttl_reaping(), 'ttl_reaping is false outside a cleanup');

-- bad input, each with its SQLSTATE
CREATE TABLE ttl_t (id int PRIMARY KEY, v gvector(2));
INSERT INTO ttl_t VALUES (1, '[1,1]');
CREATE TABLE ttl_nottl (id int PRIMARY KEY);
CREATE TABLE ttl_nopk (a int);
CREATE TABLE ttl_ts (id int PRIMARY KEY, expires_at timestamp);
CREATE TABLE ttl_part (id int) PARTITION BY RANGE (id);
CREATE VIEW ttl_view AS SELECT 1 AS a;
SELECT lives_ok($$SELECT gigavector.enable_ttl('ttl_t')$$, 'enable_ttl on a plain table');
SELECT throws_ok($$SELECT gigavector.enable_ttl('ttl_t', default_ttl => '-1 hour')$$, '22023',
				 'default TTL must be greater than zero, not -01:00:00', 'negative default TTL');
SELECT throws_ok($$SELECT gigavector.enable_ttl('ttl_t', 'other')$$, '42710',
				 'TTL is already enabled on public.ttl_t with column expires_at', 'a second column');
SELECT throws_ok($$SELECT gigavector.enable_ttl(NULL)$$, '22004', 'table and column must not be NULL', 'NULL table');
SELECT throws_ok($$SELECT gigavector.enable_ttl('ttl_ts')$$, '42804',
				 'column expires_at of public.ttl_ts has type timestamp without time zone, not timestamp with time zone',
				 'a timestamp column that is not timestamptz');
SELECT throws_ok($$SELECT gigavector.enable_ttl('ttl_part')$$, '42809', 'public.ttl_part is a partitioned table', 'partitioned table');
SELECT throws_ok($$SELECT gigavector.enable_ttl('ttl_view')$$, '42809', 'public.ttl_view is not a table', 'a view');
SELECT throws_ok($$SELECT gigavector.enable_ttl('no_such')$$, '42P01', NULL, 'no such table');
SELECT throws_ok($$SELECT gigavector.set_ttl('ttl_t', 1, '-1 second')$$, '22023',
				 'TTL must be greater than zero, not -00:00:01', 'negative TTL');
SELECT throws_ok($$SELECT gigavector.set_ttl('ttl_t', 1, 'tomorrow')$$, '22007', NULL, 'TTL that is not an interval');
SELECT throws_ok($$SELECT gigavector.set_ttl('ttl_t', 'x', '1 hour')$$, '22P02',
				 'invalid input syntax for type integer: "x"', 'id of the wrong type');
SELECT throws_ok($$SELECT gigavector.set_ttl('ttl_t', 99, '1 hour')$$, 'P0002', 'no row of public.ttl_t has id = 99', 'no such row');
SELECT throws_ok($$SELECT gigavector.set_ttl('ttl_nottl', 1, '1 hour')$$, '55000', 'table public.ttl_nottl has no TTL', 'set_ttl without TTL');
SELECT throws_ok($$SELECT gigavector.ttl_cleanup('ttl_nottl')$$, '55000', 'table public.ttl_nottl has no TTL', 'ttl_cleanup without TTL');
SELECT throws_ok($$SELECT gigavector.disable_ttl('ttl_nottl')$$, '55000', 'table public.ttl_nottl has no TTL', 'disable_ttl without TTL');
SELECT lives_ok($$SELECT gigavector.enable_ttl('ttl_nopk')$$, 'enable_ttl needs no primary key');
SELECT throws_ok($$SELECT gigavector.set_ttl('ttl_nopk', 1, '1 hour')$$, '42P16',
				 'table public.ttl_nopk has no single-column primary key', 'set_ttl needs a single-column primary key');
SELECT throws_ok($$SELECT gigavector.set_ttl('ttl_t', 1, 3600)$$, '42883', NULL, 'a TTL given as a number');

SELECT * FROM finish();
ROLLBACK;
