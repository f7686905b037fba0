-- casts between arrays and gvector

SELECT ARRAY[1,2,3]::gvector;
SELECT ARRAY[1.5,2.25,-3]::real[]::gvector;
SELECT ARRAY[1.5,2.25,-3]::double precision[]::gvector;
SELECT ARRAY[1.5,2.25,-3]::numeric[]::gvector;
SELECT ARRAY[1,2,3]::gvector(3);

SELECT '[1.5,2.25,-3]'::gvector::real[];
SELECT '[1.5,2.25,-3]'::gvector::double precision[];
SELECT '[1.5,2.25,-3]'::gvector::numeric[];
SELECT '[1.4,2.5,-3.5,-2.6]'::gvector::integer[];

-- assignment casts
CREATE TABLE t_cast (v gvector(3), a real[]);
INSERT INTO t_cast (v) VALUES (ARRAY[1,2,3]), ('{4,5,6}'::real[]);
UPDATE t_cast SET a = v;
SELECT v, a FROM t_cast ORDER BY v;
DROP TABLE t_cast;

-- text round trip, and the path from another vector type through text
SELECT '[1,2,3]'::gvector::text;
SELECT '[1,2,3]'::text::gvector;

-- bad arrays
SELECT '{}'::real[]::gvector;
SELECT ARRAY[[1,2],[3,4]]::real[]::gvector;
SELECT ARRAY[1,NULL,3]::real[]::gvector;
SELECT ARRAY[1,2]::gvector(3);
SELECT ARRAY['NaN']::real[]::gvector;
SELECT ARRAY['Infinity']::double precision[]::gvector;
SELECT ARRAY['NaN']::numeric[]::gvector;
SELECT ARRAY[1e39]::double precision[]::gvector;
SELECT ARRAY[1e-50]::double precision[]::gvector;
SELECT ARRAY[1e50]::numeric[]::gvector;
SELECT array_fill(1.0::real, ARRAY[16001])::gvector;
SELECT '[3e9]'::gvector::integer[];
