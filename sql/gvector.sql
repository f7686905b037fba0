-- gvector: text I/O, typmod, binary round trip, and every malformed input

-- valid literals
SELECT '[1,2,3]'::gvector;
SELECT '  [ 1 , -2.5 ,3e2 ]  '::gvector;
SELECT '[1.5e-3,-0,0.1]'::gvector;
SELECT '[3.4028235e38,-3.4028235e38,1.4e-45]'::gvector;
SELECT '[1,2,3]'::gvector(3);

-- text round trip is exact (shortest representation that reads back)
SELECT '[0.1,0.2,0.30000001,1e-30]'::gvector::text::gvector = '[0.1,0.2,0.30000001,1e-30]'::gvector AS round_trip;

-- malformed literals: 22P02
SELECT '[1,2'::gvector;
SELECT '[1,,2]'::gvector;
SELECT '[a]'::gvector;
SELECT '[1,2]x'::gvector;
SELECT '[1,2,]'::gvector;
SELECT '[1 2]'::gvector;
SELECT '1,2'::gvector;
SELECT ''::gvector;
SELECT '['::gvector;
SELECT '[]'::gvector;
SELECT '[ ]'::gvector;

-- NaN and infinities are never stored
SELECT '[NaN,1]'::gvector;
SELECT '[1,Infinity]'::gvector;
SELECT '[-inf]'::gvector;

-- values outside float4
SELECT '[1e39]'::gvector;
SELECT '[-1e39]'::gvector;
SELECT '[1e-50]'::gvector;

-- dimensions
SELECT vector_dims(array_fill(1, ARRAY[16000])::gvector);
SELECT array_fill(1, ARRAY[16001])::gvector;
SELECT ('[' || repeat('1,', 16000) || '1]')::gvector;

-- typmod
SELECT '[1,2]'::gvector(3);
SELECT '[1,2,3]'::gvector(0);
SELECT '[1,2,3]'::gvector(16001);
SELECT '[1,2,3]'::gvector(2, 3);
CREATE TABLE t_typmod (v gvector(3));
INSERT INTO t_typmod VALUES ('[1,2,3]');
INSERT INTO t_typmod VALUES ('[1,2]');
INSERT INTO t_typmod VALUES (ARRAY[1,2,3,4]);
UPDATE t_typmod SET v = '[1,2,3,4]';
SELECT * FROM t_typmod;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 't_typmod'::regclass AND attname = 'v';
DROP TABLE t_typmod;

-- binary form: int16 dim, int16 reserved, float4s, all big-endian
SELECT gvector_send('[1,-2,0.5]'::gvector);

-- NULLs propagate
SELECT NULL::gvector;
SELECT l2_distance(NULL, '[1]'::gvector);
