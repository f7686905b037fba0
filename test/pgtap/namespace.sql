-- The namespaces and API keys contract: the objects, who may call and read
-- them, and that a tenant's role reaches its own namespace and no other.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION gigavector;

SELECT plan(26);

SELECT has_function('gigavector', 'create_namespace',
	ARRAY['text', 'integer', 'text', 'text', 'bigint', 'text']);
SELECT has_function('gigavector', 'drop_namespace', ARRAY['text']);
SELECT has_function('gigavector', 'set_namespace_quota', ARRAY['text', 'bigint']);
SELECT has_view('gigavector', 'namespaces', 'view gigavector.namespaces');
SELECT columns_are('gigavector', 'namespaces',
	ARRAY['name', 'dimension', 'index', 'distance', 'rows', 'max_vectors', 'owner', 'created']);
SELECT columns_are('gigavector', 'api_keys',
	ARRAY['key_id', 'name', 'role', 'salt', 'hash', 'created', 'expires', 'revoked']);

SELECT ok(NOT has_function_privilege('public',
	'gigavector.create_namespace(text, integer, text, text, bigint, text)', 'EXECUTE'),
	'PUBLIC may not create namespaces');
SELECT ok(NOT has_function_privilege('public', 'gigavector.drop_namespace(text)', 'EXECUTE'),
	'PUBLIC may not drop namespaces');
SELECT ok(NOT has_table_privilege('public', 'gigavector.api_keys', 'SELECT'),
	'PUBLIC may not read the API keys');
SELECT ok(NOT has_table_privilege('public', 'gigavector.namespace_registry', 'SELECT'),
	'PUBLIC may not read the registry');
SELECT ok(has_table_privilege('public', 'gigavector.namespaces', 'SELECT'),
	'PUBLIC reads the namespaces view (its own rows)');
SELECT is((SELECT bool_and(prosecdef AND proconfig IS NOT NULL) FROM pg_proc
		   WHERE proname LIKE 'namespace\_count\_%'), true,
	'the counting triggers are SECURITY DEFINER with a fixed search_path');
SELECT is((SELECT count(*)::int FROM pg_extension e, unnest(e.extconfig) c
		   WHERE e.extname = 'gigavector' AND c IN ('gigavector.api_keys'::regclass,
												   'gigavector.namespace_registry'::regclass)), 2,
	'pg_dump dumps the keys and the registry');

SELECT is(gigavector.create_namespace('pgtap_a', 2, max_vectors => 2), 'gv_ns_pgtap_a'::name,
	'create_namespace returns the role');
SELECT lives_ok($$SELECT gigavector.create_namespace('pgtap_b', 2)$$, 'a second namespace');
SELECT has_table('pgtap_a', 'vectors', 'the namespace holds table vectors');
SELECT ok(has_schema_privilege('gv_ns_pgtap_a', 'pgtap_a', 'USAGE')
		  AND NOT has_schema_privilege('gv_ns_pgtap_a', 'pgtap_a', 'CREATE')
		  AND NOT has_schema_privilege('gv_ns_pgtap_a', 'pgtap_b', 'USAGE'),
	'a tenant uses its own schema only, and may not create in it');
SELECT throws_ok($$SELECT gigavector.create_namespace('pgtap_a', 2)$$, '42P06',
	'namespace "pgtap_a" already exists');
SELECT throws_ok($$SELECT gigavector.create_namespace('Upper', 2)$$, '42602',
	'invalid namespace name "Upper"');

SET LOCAL ROLE gv_ns_pgtap_a;
SELECT lives_ok($$INSERT INTO pgtap_a.vectors (embedding) VALUES ('[1,2]'), ('[3,4]')$$,
	'a tenant writes its own table');
SELECT throws_ok($$INSERT INTO pgtap_a.vectors (embedding) VALUES ('[5,6]')$$, '53400',
	'namespace "pgtap_a" is full: it holds at most 2 vectors');
SELECT throws_ok($$SELECT count(*) FROM pgtap_b.vectors$$, '42501',
	'permission denied for schema pgtap_b');
SELECT is((SELECT string_agg(name || ':' || rows, ',') FROM gigavector.namespaces), 'pgtap_a:2',
	'a tenant sees its own namespace only');
RESET ROLE;

SELECT lives_ok($$SELECT gigavector.drop_namespace('pgtap_a')$$, 'drop_namespace');
SELECT hasnt_role('gv_ns_pgtap_a', 'drop_namespace drops the role');
SELECT hasnt_schema('pgtap_a', 'drop_namespace drops the schema');

SELECT * FROM finish();
ROLLBACK;
