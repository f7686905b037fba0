-- COPY in text and binary format round-trips exactly

CREATE TABLE t_copy (id int, v gvector(3));
INSERT INTO t_copy VALUES (1, '[1,2,3]'), (2, '[-0.1,3.4028235e38,1.4e-45]'), (3, NULL);

COPY t_copy TO '/tmp/gigavector_copy.bin' WITH (FORMAT binary);
CREATE TABLE t_copy2 (LIKE t_copy);
COPY t_copy2 FROM '/tmp/gigavector_copy.bin' WITH (FORMAT binary);
SELECT a.id, a.v = b.v AS same, b.v FROM t_copy a JOIN t_copy2 b USING (id) ORDER BY id;

COPY t_copy TO '/tmp/gigavector_copy.txt';
TRUNCATE t_copy2;
COPY t_copy2 FROM '/tmp/gigavector_copy.txt';
SELECT a.id, a.v = b.v AS same FROM t_copy a JOIN t_copy2 b USING (id) ORDER BY id;

-- binary data for a 2-dimensional vector into a 3-dimensional column
CREATE TABLE t_copy3 (v gvector(2));
INSERT INTO t_copy3 VALUES ('[1,2]');
COPY t_copy3 TO '/tmp/gigavector_copy3.bin' WITH (FORMAT binary);
CREATE TABLE t_copy4 (v gvector(3));
COPY t_copy4 FROM '/tmp/gigavector_copy3.bin' WITH (FORMAT binary);

-- corrupt binary input: the binary COPY of a bytea is the raw bytes, so a
-- bytea written out reads back as whatever gvector_recv makes of them
CREATE TABLE t_raw (id int, b bytea);
INSERT INTO t_raw VALUES
	(1, '\x000200003f80000040000000'),	-- valid: [1,2]
	(2, '\x000100013f800000'),			-- reserved field not zero
	(3, '\x00000000'),					-- zero dimensions
	(4, '\xffff0000'),					-- negative dimensions
	(5, '\x3e810000'),					-- 16001 dimensions
	(6, '\x000200003f800000'),			-- truncated body
	(7, '\x00010000'),					-- no body at all
	(8, '\x0001'),						-- truncated header
	(9, '\x000100007fc00000'),			-- NaN
	(10, '\x00010000ff800000'),		-- -Infinity
	(11, '\x000100003f80000000');		-- trailing junk
CREATE TABLE t_recv (v gvector);
CALL regress.copy_binary_cases('t_raw', 't_recv');
SELECT * FROM t_recv;

DROP TABLE t_copy, t_copy2, t_copy3, t_copy4, t_raw, t_recv;
