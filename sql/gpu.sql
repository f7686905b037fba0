-- GPU search without shared_preload_libraries: the backend runs the CPU
-- backend itself, over the same request protocol (src/worker/gpusql.c).

SELECT gigavector.gpu_available(), gigavector.gpu_device_count();

CREATE TABLE gpu_items (id int PRIMARY KEY, v gvector(3));
-- duplicates and ties: ids 1..40 take 8 distinct vectors, 5 times each
INSERT INTO gpu_items SELECT i, format('[%s,%s,%s]', i % 2, (i / 2) % 2, (i / 4) % 2)::gvector
	FROM generate_series(1, 40) i;
SELECT gigavector.gpu_load('gpu_items', 'v');
SELECT tbl, column_name, vectors, dimensions, bytes, queries_served, current, backend, process
	FROM gigavector.gpu_status;

-- each distance: the hits equal the exact scan's, ties by id
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[1,0,0]', 7);
SELECT id, v <-> '[1,0,0]' AS distance FROM gpu_items ORDER BY 2, 1 LIMIT 7;
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[1,1,0]', 7, 'cosine');
SELECT id, v <=> '[1,1,0]' AS distance FROM gpu_items ORDER BY 2, 1 LIMIT 7;
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[1,2,3]', 7, 'ip');
SELECT id, v <#> '[1,2,3]' AS distance FROM gpu_items ORDER BY 2, 1 LIMIT 7;

-- every row, against the exact scan, for every distance and k up to N and beyond
SELECT d, k, (SELECT array_agg(id ORDER BY distance, id) FROM gigavector.gpu_search('gpu_items', 'v', '[0.5,-1,2]', k, d))
	= (SELECT array_agg(id) FROM (SELECT id::bigint FROM gpu_items ORDER BY
		CASE d WHEN 'l2' THEN v <-> '[0.5,-1,2]' WHEN 'cosine' THEN v <=> '[0.5,-1,2]' ELSE v <#> '[0.5,-1,2]' END, id
		LIMIT k) s) AS same
	FROM unnest(ARRAY['l2', 'cosine', 'ip']) d, unnest(ARRAY[1, 2, 39, 40, 41, 1024]) k ORDER BY 1, 2;

-- a batch: query_no from 1, k hits each
SELECT * FROM gigavector.gpu_search_batch('gpu_items', 'v', ARRAY['[0,0,0]', '[1,1,1]']::gvector[], 2);
SELECT count(*) FROM gigavector.gpu_search_batch('gpu_items', 'v', '{}'::gvector[], 2);

-- changes reach the resident copy: the trigger bumps the version, the next search reloads
INSERT INTO gpu_items VALUES (100, '[9,9,9]');
SELECT current FROM gigavector.gpu_status;
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[9,9,9]', 1);
UPDATE gpu_items SET v = '[-9,-9,-9]' WHERE id = 100;
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[-9,-9,-9]', 1);
DELETE FROM gpu_items WHERE id = 100;
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[-9,-9,-9]', 1);
BEGIN;
INSERT INTO gpu_items VALUES (101, '[7,7,7]');
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[7,7,7]', 1);
ROLLBACK;
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[7,7,7]', 1);
TRUNCATE gpu_items;
SELECT count(*) FROM gigavector.gpu_search('gpu_items', 'v', '[7,7,7]', 5);
SELECT vectors, queries_served > 0 AS served FROM gigavector.gpu_status;

-- bad input
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[1,2,3]', 0);
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[1,2,3]', 1025);
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[1,2,3]', 1, 'hamming');
INSERT INTO gpu_items VALUES (1, '[1,1,1]');
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[1,2]', 1);
SELECT * FROM gigavector.gpu_search_batch('gpu_items', 'v', ARRAY['[1,2,3]', NULL]::gvector[], 1);
SELECT * FROM gigavector.gpu_search_batch('gpu_items', 'v', ARRAY['[1,2,3]', '[1,2]']::gvector[], 1);
CREATE TABLE gpu_nopk (id int, v gvector(3));
SELECT gigavector.gpu_load('gpu_nopk', 'v');
SELECT gigavector.gpu_load('gpu_items', 'nope');
SELECT gigavector.gpu_load('gpu_items', 'id');
SELECT * FROM gigavector.gpu_search('gpu_nopk', 'v', '[1,2,3]', 1);
CREATE TABLE gpu_rls (id int PRIMARY KEY, v gvector(3));
ALTER TABLE gpu_rls ENABLE ROW LEVEL SECURITY;
SELECT gigavector.gpu_load('gpu_rls', 'v');
SELECT gigavector.gpu_device_info(0);
CREATE ROLE gpu_stranger;
SET ROLE gpu_stranger;
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[1,2,3]', 1);
SELECT gigavector.gpu_load('gpu_items', 'v');
RESET ROLE;
DROP ROLE gpu_stranger;

-- unload: the copy is freed, the trigger dropped, searches refused
SELECT gigavector.gpu_unload('gpu_items', 'v');
SELECT gigavector.gpu_unload('gpu_items', 'v');
SELECT count(*) FROM gigavector.gpu_status;
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'gpu_items'::regclass;
SELECT * FROM gigavector.gpu_search('gpu_items', 'v', '[1,2,3]', 1);
DROP TABLE gpu_items, gpu_nopk, gpu_rls;
