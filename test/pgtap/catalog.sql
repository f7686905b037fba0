-- The catalog contract: the objects other code and tests rely on exist, with
-- the volatility, strictness and parallel safety they promise.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION gigavector;

SELECT plan(71);

-- schema and type
SELECT has_schema('gigavector', 'management schema gigavector exists');
SELECT has_type('gvector', 'type gvector exists');
SELECT is((SELECT typstorage FROM pg_type WHERE typname = 'gvector'), 'e',
		  'gvector is stored out of line uncompressed (vectors do not compress)');
SELECT is(format_type('gvector'::regtype, 768), 'gvector(768)', 'typmod prints as gvector(n)');

-- operators
SELECT has_operator('gvector', '<->', 'gvector', 'double precision', 'L2 distance operator');
SELECT has_operator('gvector', '<=>', 'gvector', 'double precision', 'cosine distance operator');
SELECT has_operator('gvector', '<#>', 'gvector', 'double precision', 'negative inner product operator');
SELECT has_operator('gvector', '+', 'gvector', 'gvector', 'element-wise +');
SELECT has_operator('gvector', '-', 'gvector', 'gvector', 'element-wise -');
SELECT has_operator('gvector', '*', 'gvector', 'gvector', 'element-wise *');
SELECT has_operator('gvector', '<+>', 'gvector', 'double precision', 'L1 distance operator');
SELECT has_operator('ghalfvec', op, 'ghalfvec', 'double precision', 'ghalfvec distance ' || op)
	FROM unnest(ARRAY['<->', '<=>', '<#>', '<+>']) op;
SELECT has_operator('gsparsevec', op, 'gsparsevec', 'double precision', 'gsparsevec distance ' || op)
	FROM unnest(ARRAY['<->', '<=>', '<#>', '<+>']) op;
SELECT has_operator('gbit', '<~>', 'gbit', 'double precision', 'Hamming distance operator');
SELECT has_operator('gbit', '<%>', 'gbit', 'double precision', 'Jaccard distance operator');
SELECT is((SELECT array_agg(typname || ':' || typcategory::text || ':' || typispreferred ORDER BY typname)
		   FROM pg_type WHERE typname IN ('gvector', 'ghalfvec', 'gbit', 'gsparsevec')),
		  ARRAY['gbit:g:false', 'ghalfvec:g:false', 'gsparsevec:g:false', 'gvector:g:true'],
		  'one type category, gvector preferred: untyped literals resolve to gvector');
SELECT has_operator('gvector', op, 'gvector', 'boolean', 'comparison ' || op)
	FROM unnest(ARRAY['<', '<=', '=', '<>', '>=', '>']) op;

-- operator classes
SELECT has_opclass('gvector_ops', 'btree/hash operator class gvector_ops');
SELECT is((SELECT count(*)::int FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
		   WHERE c.opcname = 'gvector_ops' AND c.opcdefault AND a.amname IN ('btree', 'hash')),
		  2, 'gvector_ops is the default for btree and hash');

-- access methods, each with the three vector operator classes, all of
-- which pass the access method's own validation
SELECT is((SELECT count(*)::int FROM pg_am WHERE amname IN ('gv_hnsw', 'gv_ivfpq', 'gv_kdtree') AND amtype = 'i'),
		  3, 'access methods gv_hnsw, gv_ivfpq and gv_kdtree exist');
SELECT is((SELECT array_agg(a.amname || ':' || c.opcname ORDER BY a.amname, c.opcname)
		   FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
		   WHERE a.amname LIKE 'gv\_%' AND c.opcintype = 'gvector'::regtype),
		  ARRAY['gv_hnsw:gvector_cosine_ops', 'gv_hnsw:gvector_ip_ops', 'gv_hnsw:gvector_l1_ops',
				'gv_hnsw:gvector_l2_ops',
				'gv_ivfpq:gvector_cosine_ops', 'gv_ivfpq:gvector_ip_ops', 'gv_ivfpq:gvector_l2_ops',
				'gv_kdtree:gvector_cosine_ops', 'gv_kdtree:gvector_ip_ops', 'gv_kdtree:gvector_l1_ops',
				'gv_kdtree:gvector_l2_ops']::text[],
		  'each access method has the l2, cosine and ip operator classes (gv_hnsw and gv_kdtree also l1)');
SELECT is((SELECT array_agg(format_type(c.opcintype, NULL) || ':' || c.opcname || ':' || c.opcdefault
					 ORDER BY c.opcname)
		   FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
		   WHERE a.amname = 'gv_hnsw'
			 AND c.opcintype IN ('ghalfvec'::regtype, 'gbit'::regtype, 'gsparsevec'::regtype)),
		  ARRAY['gbit:gbit_hamming_ops:true', 'gbit:gbit_jaccard_ops:false',
				'ghalfvec:ghalfvec_cosine_ops:false', 'ghalfvec:ghalfvec_ip_ops:false',
				'ghalfvec:ghalfvec_l1_ops:false', 'ghalfvec:ghalfvec_l2_ops:true',
				'gsparsevec:gsparsevec_cosine_ops:false', 'gsparsevec:gsparsevec_ip_ops:false',
				'gsparsevec:gsparsevec_l1_ops:false', 'gsparsevec:gsparsevec_l2_ops:true']::text[],
		  'gv_hnsw has the ghalfvec, gbit and gsparsevec operator classes, l2 and hamming the defaults');
SELECT is((SELECT array_agg(c.opcname || ':' || c.opcdefault ORDER BY c.opcname)
		   FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
		   WHERE a.amname = 'gv_ivfpq' AND c.opcintype IN ('ghalfvec'::regtype, 'gsparsevec'::regtype)),
		  ARRAY['ghalfvec_cosine_ops:false', 'ghalfvec_ip_ops:false', 'ghalfvec_l2_ops:true',
				'gsparsevec_cosine_ops:false', 'gsparsevec_ip_ops:false', 'gsparsevec_l2_ops:true']::text[],
		  'gv_ivfpq has the ghalfvec and gsparsevec operator classes, l2 the default');
SELECT is((SELECT array_agg(c.opcname || ':' || c.opcdefault ORDER BY c.opcname)
		   FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
		   WHERE a.amname = 'gv_kdtree' AND c.opcintype = 'ghalfvec'::regtype),
		  ARRAY['ghalfvec_cosine_ops:false', 'ghalfvec_l1_ops:false', 'ghalfvec_l2_ops:true']::text[],
		  'gv_kdtree has the ghalfvec l2 (default), cosine and l1 operator classes');
-- filter columns: gv_ivfpq's families and classes are gv_hnsw's, operator for operator
SELECT is((SELECT count(*)::int FROM pg_amop o JOIN pg_opfamily f ON f.oid = o.amopfamily
		   WHERE f.opfmethod = (SELECT oid FROM pg_am WHERE amname = 'gv_ivfpq') AND o.amoppurpose = 's'),
		  88, 'gv_ivfpq has the 88 filter column operators of gv_hnsw');
SELECT is_empty($$
	SELECT f.opfname, c.opcname, c.opcintype, c.opcdefault, o.amopstrategy, o.amopopr
	FROM pg_opfamily f JOIN pg_amop o ON o.amopfamily = f.oid AND o.amoppurpose = 's'
	LEFT JOIN pg_opclass c ON c.opcfamily = f.oid
	WHERE f.opfmethod = (SELECT oid FROM pg_am WHERE amname = 'gv_hnsw')
	EXCEPT
	SELECT f.opfname, c.opcname, c.opcintype, c.opcdefault, o.amopstrategy, o.amopopr
	FROM pg_opfamily f JOIN pg_amop o ON o.amopfamily = f.oid AND o.amoppurpose = 's'
	LEFT JOIN pg_opclass c ON c.opcfamily = f.oid
	WHERE f.opfmethod = (SELECT oid FROM pg_am WHERE amname = 'gv_ivfpq')$$,
	'every filter family, class and operator of gv_hnsw is gv_ivfpq''s too');
SELECT is((SELECT array_agg(format_type(c.opcintype, NULL) || ':' || c.opcname || ':' || c.opcdefault
					 ORDER BY c.opcname)
		   FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
		   WHERE a.amname = 'gv_hnsw'
			 AND c.opcintype NOT IN ('gvector'::regtype, 'ghalfvec'::regtype, 'gbit'::regtype,
									 'gsparsevec'::regtype)),
		  ARRAY['boolean:bool_ops:true', 'date:date_ops:true', 'real:float4_ops:true',
				'double precision:float8_ops:true', 'smallint:int2_ops:true',
				'integer:int4_ops:true', 'bigint:int8_ops:true', 'jsonb:jsonb_ops:true',
				'text:text_ops:true',
				'timestamp without time zone:timestamp_ops:true',
				'timestamp with time zone:timestamptz_ops:true',
				'uuid:uuid_ops:true']::text[],
		  'gv_hnsw has default operator classes for filter columns');
SELECT is((SELECT array_agg(DISTINCT format_type(c.opcintype, NULL) || ':' || o.amopstrategy
					 ORDER BY format_type(c.opcintype, NULL) || ':' || o.amopstrategy)
		   FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
		   JOIN pg_amop o ON o.amopfamily = c.opcfamily AND o.amoplefttype = c.opcintype
		   WHERE a.amname = 'gv_hnsw' AND c.opcname IN ('int4_ops', 'float8_ops', 'text_ops', 'jsonb_ops')),
		  ARRAY['double precision:1', 'double precision:2', 'double precision:3',
				'double precision:4', 'double precision:5',
				'integer:1', 'integer:2', 'integer:3', 'integer:4', 'integer:5',
				'jsonb:1', 'jsonb:10', 'jsonb:11', 'jsonb:7', 'jsonb:9',
				'text:1']::text[],
		  'ordered filter columns have = < <= >= > (strategies 1-5), hashed ones = only, jsonb = @> ? ?| ?& (1, 7, 9, 10, 11)');
SELECT is_empty($$
	SELECT c.opcname FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
	WHERE a.amname LIKE 'gv\_%' AND NOT amvalidate(c.oid)
$$, 'every gigavector operator class passes amvalidate');

-- functions a user calls
SELECT has_function('l2_distance', ARRAY['gvector', 'gvector']);
SELECT has_function('cosine_distance', ARRAY['gvector', 'gvector']);
SELECT has_function('inner_product', ARRAY['gvector', 'gvector']);
SELECT has_function('l1_distance', ARRAY['gvector', 'gvector']);
SELECT has_function('vector_dims', ARRAY['gvector']);
SELECT has_function('vector_norm', ARRAY['gvector']);
SELECT has_function('l2_normalize', ARRAY['gvector']);
SELECT has_function('subvector', ARRAY['gvector', 'integer', 'integer']);
SELECT function_returns('l2_distance', ARRAY['gvector', 'gvector'], 'double precision');
SELECT function_returns('subvector', ARRAY['gvector', 'integer', 'integer'], 'gvector');
SELECT has_function('gigavector', 'distance_kernel', ARRAY[]::name[]);
SELECT ok(gigavector.distance_kernel() IN ('scalar', 'avx2', 'avx512', 'avx512fp16'),
		  'distance_kernel() names a known tier');
SELECT schema_privs_are('gigavector', 'public', ARRAY['USAGE'],
					   'every role may use the management schema');
CREATE ROLE gv_catalog_user;
SET ROLE gv_catalog_user;
SELECT ok(gigavector.distance_kernel() IS NOT NULL, 'a plain role calls a public management function');
RESET ROLE;
DROP ROLE gv_catalog_user;

-- every function of the type is IMMUTABLE STRICT PARALLEL SAFE; access
-- method handlers and the management functions (schema gigavector) are not
-- values of the type and are checked one by one
SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'gigavector'
	WHERE p.prokind = 'f' AND p.pronamespace <> 'gigavector'::regnamespace
	  AND p.prorettype <> 'index_am_handler'::regtype
	  AND p.oid NOT IN (SELECT aggtransfn FROM pg_aggregate UNION SELECT aggcombinefn FROM pg_aggregate)
	  -- bm25query() reads its index's statistics (stable) and refuses NULLs itself
	  AND p.oid <> 'bm25query(regclass,text,text)'::regprocedure
	  AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's')
$$, 'type functions are immutable, strict and parallel safe');
SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	FROM pg_proc p WHERE p.pronamespace = 'gigavector'::regnamespace
	  AND p.proname IN ('distance_kernel', 'gpu_info')
	  AND (p.provolatile <> 's' OR p.proparallel <> 's')
$$, 'build-description functions are stable and parallel safe');

-- aggregates
SELECT has_function('avg', ARRAY['gvector']);
SELECT has_function('sum', ARRAY['gvector']);
SELECT is((SELECT count(*)::int FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
		   WHERE p.proname IN ('avg', 'sum') AND p.proargtypes[0] = 'gvector'::regtype
			 AND a.aggcombinefn <> 0 AND p.proparallel = 's'),
		  2, 'avg and sum are parallel safe with combine functions');
SELECT is((SELECT array_agg(a.aggfnoid::regprocedure::text || ':' || a.aggfinalfn::regprocedure::text
							|| ':' || a.aggserialfn::text || ':' || a.aggdeserialfn::text
							ORDER BY a.aggfnoid::regprocedure::text)
		   FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
		   WHERE p.proargtypes[0] = 'gvector'::regtype AND a.aggtranstype = 'internal'::regtype),
		  ARRAY['avg(gvector):gvector_avg(internal):gvector_agg_serialize:gvector_agg_deserialize',
				'sum(gvector):gvector_sum(internal):gvector_agg_serialize:gvector_agg_deserialize'],
		  'avg and sum keep an internal state (SQL cannot pass one), serialized for parallel workers');
SELECT is((SELECT count(*)::int FROM pg_aggregate a JOIN pg_proc t ON t.oid = a.aggtransfn
		   JOIN pg_proc c ON c.oid = a.aggcombinefn
		   WHERE a.aggfnoid IN ('avg(gvector)'::regprocedure, 'sum(gvector)'::regprocedure)
			 AND NOT t.proisstrict AND NOT c.proisstrict AND t.provolatile = 'i' AND t.proparallel = 's'),
		  2, 'their transition and combine functions are immutable, parallel safe and skip NULLs themselves');

-- checking functions that read a whole index: not for PUBLIC
SELECT ok(NOT has_function_privilege('public', 'gigavector.hnsw_verify(regclass)', 'EXECUTE'),
		  'PUBLIC may not run hnsw_verify');
SELECT ok(has_function_privilege('pg_stat_scan_tables', 'gigavector.hnsw_verify(regclass)', 'EXECUTE'),
		  'pg_stat_scan_tables may run hnsw_verify');

-- casts
SELECT has_cast('integer[]', 'gvector', 'cast integer[] -> gvector');
SELECT has_cast('real[]', 'gvector', 'cast real[] -> gvector');
SELECT has_cast('double precision[]', 'gvector', 'cast double precision[] -> gvector');
SELECT has_cast('numeric[]', 'gvector', 'cast numeric[] -> gvector');
SELECT has_cast('gvector', 'real[]', 'cast gvector -> real[]');
SELECT has_cast('gvector', 'double precision[]', 'cast gvector -> double precision[]');
SELECT has_cast('gvector', 'numeric[]', 'cast gvector -> numeric[]');
SELECT has_cast('gvector', 'integer[]', 'cast gvector -> integer[]');

SELECT * FROM finish();
ROLLBACK;
