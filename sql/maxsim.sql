-- Multi-vector MaxSim: maxsim(doc, query) = sum over query tokens of the
-- largest inner product with a document token.  Expected values worked out
-- by hand in the comments.

-- query [1,1]: max(1, 1) = 1; [2,0]: max(2, 0) = 2; total 3
SELECT gigavector.maxsim('{"[1,0]","[0,1]"}', '{"[1,1]","[2,0]"}');
-- one document token: 7 + 6 = 13; the operator is the negative
SELECT gigavector.maxsim('{"[3,4]"}', '{"[1,1]","[2,0]"}'),
       '{"[3,4]"}'::gvector[] @# '{"[1,1]","[2,0]"}';
-- negative products: the largest of -3 and -1.5 is -1.5
SELECT gigavector.maxsim('{"[-1,-2]","[-0.5,-1]"}', '{"[1,1]"}');
-- not symmetric: doc {[1,0],[0,1]} against query {[3,4]} is max(3,4) = 4,
-- doc {[3,4]} against query {[1,0],[0,1]} is 3 + 4 = 7
SELECT gigavector.maxsim('{"[1,0]","[0,1]"}', '{"[3,4]"}'),
       gigavector.maxsim('{"[3,4]"}', '{"[1,0]","[0,1]"}');
-- a repeated query token counts each time: 2 * 5 = 10
SELECT gigavector.maxsim('{"[1,2]"}', '{"[1,2]","[1,2]"}');
-- wide range: each product is computed in double where float would
-- overflow: the float nearest 1e20 is 100000002004087734272, squared in double
SELECT gigavector.maxsim('{"[1e20]"}', '{"[1e20]"}');

-- ORDER BY doc @# query: exact, best first (a sequential scan)
CREATE TABLE maxsim_docs (id int PRIMARY KEY, tokens gvector[]);
INSERT INTO maxsim_docs VALUES
	(1, '{"[1,0]","[0,1]"}'),		-- 1 + 2 = 3
	(2, '{"[3,4]"}'),				-- 7 + 6 = 13
	(3, '{"[0,0]","[-1,5]"}'),		-- max(0,4)=4 + max(0,-2)=0: 4
	(4, '{"[2,2]","[5,-5]"}');		-- max(4,0)=4 + max(4,10)=10: 14
SELECT id, gigavector.maxsim(tokens, '{"[1,1]","[2,0]"}') AS score
	FROM maxsim_docs ORDER BY tokens @# '{"[1,1]","[2,0]"}' LIMIT 3;

-- bad inputs
SELECT gigavector.maxsim(NULL, '{"[1,1]"}') IS NULL AS null_doc_is_null,
       gigavector.maxsim('{"[1,1]"}', NULL) IS NULL AS null_query_is_null;
SELECT regress.err($q$SELECT gigavector.maxsim('{}', '{"[1,1]"}')$q$);
SELECT regress.err($q$SELECT gigavector.maxsim('{"[1,1]"}', '{}')$q$);
SELECT regress.err($q$SELECT gigavector.maxsim(ARRAY['[1,1]', NULL]::gvector[], '{"[1,1]"}')$q$);
SELECT regress.err($q$SELECT gigavector.maxsim('{"[1,1]"}', ARRAY[NULL, '[1,1]']::gvector[])$q$);
SELECT regress.err($q$SELECT gigavector.maxsim('{"[1,1]"}', '{"[1,1]","[1,1,1]"}')$q$);
SELECT regress.err($q$SELECT gigavector.maxsim('{"[1,1]","[1,2,3]"}', '{"[1,1]"}')$q$);
SELECT regress.err($q$SELECT gigavector.maxsim('{"[1,1,1]"}', '{"[1,1]"}')$q$);
SELECT regress.err($q$SELECT gigavector.maxsim('{{"[1,1]"},{"[1,2]"}}', '{"[1,1]"}')$q$);
SELECT regress.err($q$SELECT gigavector.maxsim('{"[NaN,1]"}', '{"[1,1]"}')$q$);
SELECT regress.err($q$SELECT gigavector.maxsim('{"[1,1]"}', '{"[1,Infinity]"}')$q$);

-- the index-accelerated search: token vectors in a gv_hnsw index
CREATE TABLE maxsim_tokens (doc_id int, token gvector(2));
INSERT INTO maxsim_tokens SELECT id, unnest(tokens) FROM maxsim_docs;
CREATE INDEX ON maxsim_tokens USING gv_hnsw (token gvector_ip_ops);
ANALYZE maxsim_tokens;
-- every document is a candidate here (7 tokens, 8 candidates per query
-- token covers them all), so the answer is the exact one
SELECT * FROM gigavector.maxsim_search('maxsim_docs', 'maxsim_tokens',
	'{"[1,1]","[2,0]"}', 3, candidates => 8);
-- one candidate per token: [1,1] finds [3,4] (doc 2, 7) and [2,0] finds
-- [5,-5] (doc 4, 10); both are re-ranked exactly
SELECT * FROM gigavector.maxsim_search('maxsim_docs', 'maxsim_tokens',
	'{"[1,1]","[2,0]"}', 10, candidates => 1);
-- the caller's ef_search is put back
SHOW gigavector.hnsw_ef_search;
-- the gathering goes through the index
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT c.doc FROM unnest('{"[1,1]","[2,0]"}'::gvector[]) AS q(v),
	LATERAL (SELECT t.doc_id AS doc FROM maxsim_tokens t ORDER BY t.token <#> q.v LIMIT 4) c;
RESET enable_seqscan;
-- other column names
CREATE TABLE maxsim_docs2 (doc bigint, vecs gvector[]);
INSERT INTO maxsim_docs2 SELECT id, tokens FROM maxsim_docs;
CREATE TABLE maxsim_tokens2 (d bigint, v gvector(2));
INSERT INTO maxsim_tokens2 SELECT doc_id, token FROM maxsim_tokens;
CREATE INDEX ON maxsim_tokens2 USING gv_hnsw (v gvector_ip_ops);
SELECT * FROM gigavector.maxsim_search('maxsim_docs2', 'maxsim_tokens2',
	'{"[1,1]","[2,0]"}', 2, 8, id_column => 'doc', tokens_column => 'vecs',
	doc_column => 'd', token_column => 'v');
-- bad inputs
SELECT regress.err($q$SELECT * FROM gigavector.maxsim_search('maxsim_docs', 'maxsim_tokens', NULL, 3)$q$);
SELECT regress.err($q$SELECT * FROM gigavector.maxsim_search('maxsim_docs', 'maxsim_tokens', '{}', 3)$q$);
SELECT regress.err($q$SELECT * FROM gigavector.maxsim_search('maxsim_docs', 'maxsim_tokens', '{"[1,1]","[1]"}', 3)$q$);
SELECT regress.err($q$SELECT * FROM gigavector.maxsim_search('maxsim_docs', 'maxsim_tokens', '{"[1,1]"}', 0)$q$);
SELECT regress.err($q$SELECT * FROM gigavector.maxsim_search('maxsim_docs', 'maxsim_tokens', '{"[1,1]"}', 3, 0)$q$);
SELECT regress.err($q$SELECT * FROM gigavector.maxsim_search('maxsim_docs', NULL, '{"[1,1]"}', 3)$q$);
SELECT regress.err($q$SELECT * FROM gigavector.maxsim_search('maxsim_docs', 'maxsim_tokens', '{"[1,1,1]"}', 3)$q$);
SELECT regress.err($q$SELECT * FROM gigavector.maxsim_search('maxsim_docs', 'maxsim_tokens', '{"[1,1]"}', 3,
	token_column => 'no_such_column')$q$);

DROP TABLE maxsim_docs, maxsim_tokens, maxsim_docs2, maxsim_tokens2;
