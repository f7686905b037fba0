-- TTL: expired rows are hidden at once (a forced row-level security policy),
-- gigavector.ttl_cleanup deletes them, ttl_stats counts them.  Without
-- shared_preload_libraries there is no worker: everything here runs on demand.
-- Superusers bypass row-level security: the owner's view is what counts.
\set SHOW_CONTEXT never

CREATE ROLE regress_ttl_owner;
-- (CREATE INDEX, which enable_ttl runs, takes CREATE on the schema)
GRANT CREATE ON SCHEMA public TO regress_ttl_owner;
CREATE TABLE ttl_items (id bigint PRIMARY KEY, embedding gvector(2), tag int);
INSERT INTO ttl_items SELECT g, format('[%s,0]', g)::gvector, g % 3 FROM generate_series(1, 20) g;
ALTER TABLE ttl_items OWNER TO regress_ttl_owner;
SET ROLE regress_ttl_owner;

-- a column, its index, the policies, the default
SELECT gigavector.enable_ttl('ttl_items', default_ttl => '1 day');
SELECT column_name, data_type, column_default FROM information_schema.columns
	WHERE table_name = 'ttl_items' AND column_name = 'expires_at';
SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ttl_items' ORDER BY 1;
SELECT polname, polpermissive, pg_get_expr(polqual, polrelid) FROM pg_policy
	WHERE polrelid = 'ttl_items'::regclass ORDER BY 1;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'ttl_items'::regclass;
SELECT tbl, ttl_column, default_ttl, index_name, added_column, rows_deleted FROM gigavector.ttl_tables;
RESET ROLE;

-- rows there before have no expiry; new rows get the default
SELECT count(*) FILTER (WHERE expires_at IS NULL) AS never, count(*) AS all_rows FROM ttl_items;
INSERT INTO ttl_items VALUES (21, '[21,0]', 0);
SELECT expires_at BETWEEN now() + interval '23 hours' AND now() + interval '1 day' AS one_day
	FROM ttl_items WHERE id = 21;

-- expired rows vanish at once, for the owner too (forced)
UPDATE ttl_items SET expires_at = now() - interval '1 minute' WHERE id IN (1, 2, 3, 4, 5);
SELECT count(*) AS superuser_sees FROM ttl_items;
SET ROLE regress_ttl_owner;
SELECT count(*) AS owner_sees FROM ttl_items;
SELECT id FROM ttl_items WHERE id <= 6 ORDER BY id;
RESET ROLE;

-- k-NN with an index: k rows in exact order although the nearest rows expired
SET enable_seqscan = off;
CREATE INDEX ttl_items_hnsw ON ttl_items USING gv_hnsw (embedding gvector_l2_ops);
SET ROLE regress_ttl_owner;
EXPLAIN (COSTS OFF) SELECT id FROM ttl_items ORDER BY embedding <-> '[0,0]' LIMIT 3;
SELECT id, embedding <-> '[0,0]' AS distance FROM ttl_items ORDER BY embedding <-> '[0,0]' LIMIT 3;
RESET ROLE;
RESET enable_seqscan;

-- set_ttl: by primary key, integer or text; NULL means never
SET ROLE regress_ttl_owner;
SELECT gigavector.set_ttl('ttl_items', 7, '2 hours') - now() AS left;
SELECT gigavector.set_ttl('ttl_items', '8'::text, '3 hours') - now() AS left;
SELECT gigavector.set_ttl('ttl_items', 9, NULL) IS NULL AS never;
SELECT expires_at IS NULL FROM ttl_items WHERE id = 9;
-- a row that expired cannot be revived: it is gone already
SELECT gigavector.set_ttl('ttl_items', 1, '1 hour');
RESET ROLE;

-- stats count past the policy; the cleanup deletes exactly the expired rows
SELECT table_name, ttl_column, default_ttl, rows_with_ttl, rows_expired, rows_deleted,
	last_run IS NULL AS never_ran, last_error FROM gigavector.ttl_stats;
SET gigavector.ttl_batch_size = 2;
SELECT gigavector.ttl_cleanup();
RESET gigavector.ttl_batch_size;
SELECT gigavector.ttl_cleanup('ttl_items');
SELECT rows_with_ttl, rows_expired, rows_deleted, last_run IS NOT NULL AS ran FROM gigavector.ttl_stats;
SELECT count(*), min(id) FROM ttl_items;

-- ttl_cleanup() cleans the tables where the role holds SELECT, UPDATE (FOR UPDATE
-- takes it) and DELETE; naming a table it may not clean is an error
CREATE ROLE regress_ttl_reader;
CREATE ROLE regress_ttl_deleter;
GRANT SELECT ON ttl_items TO regress_ttl_reader, regress_ttl_deleter;
GRANT DELETE ON ttl_items TO regress_ttl_deleter;
UPDATE ttl_items SET expires_at = now() - interval '1 second' WHERE id = 10;
SET ROLE regress_ttl_reader;
SELECT gigavector.ttl_cleanup();
SELECT gigavector.ttl_cleanup('ttl_items');
SELECT rows_expired FROM gigavector.ttl_stats;
SELECT gigavector.enable_ttl('ttl_items', default_ttl => '1 hour');
SELECT gigavector.disable_ttl('ttl_items');
RESET ROLE;
SET ROLE regress_ttl_deleter;
SELECT gigavector.ttl_cleanup();
RESET ROLE;

-- inserting a row that is already expired works; it is hidden at once
SET ROLE regress_ttl_owner;
INSERT INTO ttl_items VALUES (30, '[30,0]', 0, now() - interval '1 hour');
SELECT count(*) FROM ttl_items WHERE id = 30;
RESET ROLE;
GRANT UPDATE ON ttl_items TO regress_ttl_deleter;
SET ROLE regress_ttl_deleter;
SELECT gigavector.ttl_cleanup();
RESET ROLE;
SELECT rows_deleted FROM gigavector.ttl_stats WHERE table_name = 'ttl_items'::regclass;

-- a backup by the owner leaves expired rows out; the restore enables TTL again
UPDATE ttl_items SET expires_at = now() - interval '1 minute' WHERE id = 11;
SET ROLE regress_ttl_owner;
CREATE TEMP TABLE ttl_chunks AS
	SELECT row_number() OVER () AS n, c FROM gigavector.backup('ttl_items') c;
SELECT gigavector.restore(c, 'ttl_copy', false ORDER BY n) FROM ttl_chunks;
RESET ROLE;
-- (as the superuser, whom the policy does not bind: row 11 is not there at all)
SELECT count(*), count(*) FILTER (WHERE id = 11) AS expired FROM ttl_copy;
SELECT count(*), count(*) FILTER (WHERE id = 11) AS expired FROM ttl_items;
SELECT tbl, ttl_column, default_ttl FROM gigavector.ttl_tables WHERE tbl = 'ttl_copy'::regclass;
SELECT polname FROM pg_policy WHERE polrelid = 'ttl_copy'::regclass ORDER BY 1;
DROP TABLE ttl_copy, ttl_chunks;

-- bad input
SELECT gigavector.enable_ttl('ttl_items', default_ttl => '-1 hour');
SELECT gigavector.enable_ttl('ttl_items', default_ttl => '0');
SELECT gigavector.enable_ttl('ttl_items', 'tag');
SELECT gigavector.enable_ttl(NULL);
SELECT gigavector.enable_ttl('ttl_items', NULL);
SELECT gigavector.enable_ttl('ttl_items_hnsw');
SELECT gigavector.enable_ttl('no_such_table');
SELECT gigavector.enable_ttl('ttl_items', 'other_column');
SELECT gigavector.set_ttl('ttl_items', 11, '-5 minutes');
SELECT gigavector.set_ttl('ttl_items', 11, '0 seconds');
SELECT gigavector.set_ttl('ttl_items', 'eleven', '1 hour');
SELECT gigavector.set_ttl('ttl_items', NULL::text, '1 hour');
SELECT gigavector.set_ttl('ttl_items', 11, 'soon');
SELECT gigavector.set_ttl('ttl_items', 12345, '1 hour');
SELECT gigavector.set_ttl('ttl_items', 11, 1);
SELECT gigavector.enable_ttl('ttl_items', default_ttl => 3600);
CREATE TABLE ttl_plain (id int PRIMARY KEY);
SELECT gigavector.set_ttl('ttl_plain', 1, '1 hour');
SELECT gigavector.ttl_cleanup('ttl_plain');
SELECT gigavector.disable_ttl('ttl_plain');
CREATE TABLE ttl_nokey (a int, b int);
SELECT gigavector.enable_ttl('ttl_nokey');
SELECT gigavector.set_ttl('ttl_nokey', 1, '1 hour');
CREATE TABLE ttl_parted (id int, expires_at timestamptz) PARTITION BY RANGE (id);
SELECT gigavector.enable_ttl('ttl_parted');
CREATE TABLE ttl_wrongtype (id int PRIMARY KEY, expires_at timestamp);
SELECT gigavector.enable_ttl('ttl_wrongtype');

-- a table with its own row-level security keeps its policies
CREATE TABLE ttl_rls (id int PRIMARY KEY, owner_name name, until timestamptz);
ALTER TABLE ttl_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON ttl_rls USING (owner_name = current_user);
GRANT SELECT ON ttl_rls TO regress_ttl_reader;
INSERT INTO ttl_rls VALUES (1, 'regress_ttl_reader', now() + interval '1 hour'),
	(2, 'regress_ttl_reader', now() - interval '1 hour'), (3, 'someone_else', NULL);
SELECT gigavector.enable_ttl('ttl_rls', 'until');
SELECT polname, polpermissive FROM pg_policy WHERE polrelid = 'ttl_rls'::regclass ORDER BY 1;
SET ROLE regress_ttl_reader;
SELECT id FROM ttl_rls ORDER BY id;
SELECT rows_with_ttl, rows_expired FROM gigavector.ttl_stats WHERE table_name = 'ttl_rls'::regclass;
RESET ROLE;
SELECT gigavector.ttl_cleanup('ttl_rls');
SELECT gigavector.disable_ttl('ttl_rls');
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'ttl_rls'::regclass;
SELECT polname FROM pg_policy WHERE polrelid = 'ttl_rls'::regclass;

-- disable_ttl undoes what enable_ttl made; the column and its values stay
SELECT gigavector.disable_ttl('ttl_items');
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'ttl_items'::regclass;
SELECT count(*) FROM pg_policy WHERE polrelid = 'ttl_items'::regclass;
SELECT indexname FROM pg_indexes WHERE tablename = 'ttl_items' ORDER BY 1;
SELECT column_default FROM information_schema.columns WHERE table_name = 'ttl_items' AND column_name = 'expires_at';
SELECT count(*) FROM ttl_items;
SELECT count(*) FROM gigavector.ttl_tables;

-- an existing column is adopted; enable_ttl again changes the default only
SELECT gigavector.enable_ttl('ttl_items');
SELECT gigavector.enable_ttl('ttl_items', default_ttl => '10 minutes');
SELECT tbl, default_ttl, added_column FROM gigavector.ttl_tables ORDER BY 1;
SELECT gigavector.enable_ttl('ttl_items');
SELECT column_default FROM information_schema.columns WHERE table_name = 'ttl_items' AND column_name = 'expires_at';

-- a dropped table leaves no registration
DROP TABLE ttl_items;
SELECT tbl FROM gigavector.ttl_tables ORDER BY 1;

DROP TABLE ttl_plain, ttl_nokey, ttl_parted, ttl_wrongtype, ttl_rls;
REVOKE CREATE ON SCHEMA public FROM regress_ttl_owner;
DROP ROLE regress_ttl_owner, regress_ttl_reader, regress_ttl_deleter;
