------------------------------------------------------------------------------
-- namespaces (multi-tenancy) and the REST server's API keys
------------------------------------------------------------------------------

-- One row per namespace.  A namespace is a schema of its own name holding one
-- collection table, "vectors", and its indexes; a role of its own, gv_ns_<name>
-- (NOLOGIN), may use that schema and read and write that table, nothing else.
-- The schema and table stay owned by the role that created the namespace: an
-- owner may drop triggers, so a tenant owning its table could lift its quota.
-- row_count is kept by statement triggers on the table, under the row lock of
-- this row, so concurrent inserts count (and meet max_vectors) one after the
-- other.
CREATE TABLE gigavector.namespace_registry (
	name		name PRIMARY KEY,
	relid		oid NOT NULL UNIQUE,
	dimension	integer NOT NULL,
	index		text NOT NULL,
	distance	text NOT NULL,
	max_vectors	bigint CHECK (max_vectors >= 0),
	row_count	bigint NOT NULL DEFAULT 0,
	role		name NOT NULL UNIQUE,
	created		timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON gigavector.namespace_registry FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('gigavector.namespace_registry', '');

-- The namespaces the current role may use (a superuser sees every one).
CREATE VIEW gigavector.namespaces AS
	SELECT r.name, r.dimension, r.index, r.distance, r.row_count AS rows, r.max_vectors,
		   r.role AS owner, r.created
	FROM gigavector.namespace_registry r
	WHERE pg_catalog.pg_has_role(current_user, r.role, 'MEMBER');
GRANT SELECT ON gigavector.namespaces TO PUBLIC;
COMMENT ON VIEW gigavector.namespaces IS
	'namespaces the current role may use: name, dimension, index, distance, rows, max_vectors, owner role';

-- Count the rows a statement inserted into a namespace's table; refuse them
-- past max_vectors.  SECURITY DEFINER: tenants may not write the registry.
CREATE FUNCTION gigavector.namespace_count_insert() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	added bigint;
	ns record;
BEGIN
	SELECT count(*) INTO added FROM gv_new_rows;
	UPDATE gigavector.namespace_registry SET row_count = row_count + added
		WHERE relid = TG_RELID RETURNING name, row_count, max_vectors INTO ns;
	IF ns.max_vectors IS NOT NULL AND ns.row_count > ns.max_vectors THEN
		RAISE EXCEPTION 'namespace "%" is full: it holds at most % vectors', ns.name, ns.max_vectors
			USING ERRCODE = 'configuration_limit_exceeded',
				  DETAIL = format('Inserting %s vectors would make %s.', added, ns.row_count),
				  HINT = 'Delete vectors or raise the quota with gigavector.set_namespace_quota().';
	END IF;
	RETURN NULL;
END $$;

CREATE FUNCTION gigavector.namespace_count_delete() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE gigavector.namespace_registry SET row_count = row_count - (SELECT count(*) FROM gv_old_rows)
		WHERE relid = TG_RELID;
	RETURN NULL;
END $$;

CREATE FUNCTION gigavector.namespace_count_truncate() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE gigavector.namespace_registry SET row_count = 0 WHERE relid = TG_RELID;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION gigavector.namespace_count_insert(), gigavector.namespace_count_delete(),
	gigavector.namespace_count_truncate() FROM PUBLIC;

-- Create namespace "name": schema, role gv_ns_<name>, table "vectors" with a
-- GIN index on metadata and a vector index (index: hnsw, ivfpq, kdtree or
-- flat; distance: l2, cosine or ip), grants, quota triggers.  index_name
-- names the vector index (the Python package passes the name it looks for).
CREATE FUNCTION gigavector.create_namespace(name text, dimension integer,
		index text DEFAULT 'hnsw', distance text DEFAULT 'l2', max_vectors bigint DEFAULT NULL,
		index_name text DEFAULT NULL)
	RETURNS name
	LANGUAGE plpgsql
	SET search_path = pg_catalog, @extschema@, pg_temp AS $$
DECLARE
	role_name name;
	tbl regclass;
	opclass text;
BEGIN
	IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,47}$' THEN
		RAISE EXCEPTION 'invalid namespace name "%"', name
			USING ERRCODE = 'invalid_name',
				  HINT = 'A namespace name is 1 to 48 characters: lowercase letters, digits and underscores, starting with a letter.';
	END IF;
	IF name ~ '^pg_' OR name IN ('public', 'gigavector', 'information_schema') THEN
		RAISE EXCEPTION 'namespace name "%" is reserved', name USING ERRCODE = 'reserved_name';
	END IF;
	IF dimension IS NULL OR dimension < 1 OR dimension > 16000 THEN
		RAISE EXCEPTION 'dimension must be from 1 to 16000, not %', dimension
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF index IS NULL OR index NOT IN ('hnsw', 'ivfpq', 'kdtree', 'flat') THEN
		RAISE EXCEPTION 'unknown index "%"', index USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Use hnsw, ivfpq, kdtree or flat.';
	END IF;
	opclass := CASE distance WHEN 'l2' THEN 'gvector_l2_ops' WHEN 'cosine' THEN 'gvector_cosine_ops'
							 WHEN 'ip' THEN 'gvector_ip_ops' END;
	IF opclass IS NULL THEN
		RAISE EXCEPTION 'unknown distance "%"', distance USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Use l2, cosine or ip.';
	END IF;
	IF max_vectors < 0 THEN
		RAISE EXCEPTION 'max_vectors must be at least 0, not %', max_vectors
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT FROM gigavector.namespace_registry r WHERE r.name = create_namespace.name)
	   OR to_regnamespace(quote_ident(name)) IS NOT NULL THEN
		RAISE EXCEPTION 'namespace "%" already exists', name USING ERRCODE = 'duplicate_schema';
	END IF;
	role_name := 'gv_ns_' || name;
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
		RAISE EXCEPTION 'role "%" for namespace "%" already exists', role_name, name
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Roles are shared by every database of a cluster; drop the role or choose another name.';
	END IF;

	EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
	EXECUTE format('CREATE SCHEMA %I', name);
	EXECUTE format('CREATE TABLE %I.vectors (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, '
				   'embedding gvector(%s) NOT NULL, metadata jsonb NOT NULL DEFAULT ''{}'') '
				   'WITH (toast_tuple_target = 8160)', name, dimension);
	tbl := format('%I.vectors', name)::regclass;
	EXECUTE format('CREATE INDEX vectors_metadata_idx ON %s USING gin (metadata jsonb_path_ops)', tbl);
	-- gv_hnsw and gv_ivfpq hold metadata as a filter column, so that a filtered
	-- search tests the containment inside the index (as Database collections do)
	IF index <> 'flat' THEN
		EXECUTE format('CREATE INDEX %I ON %s USING %I (embedding %I%s)',
					   coalesce(index_name, 'vectors_' || index || '_idx'), tbl, 'gv_' || index, opclass,
					   CASE WHEN index IN ('hnsw', 'ivfpq') THEN ', metadata' ELSE '' END);
	END IF;
	EXECUTE format('CREATE TRIGGER gv_count_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS gv_new_rows '
				   'FOR EACH STATEMENT EXECUTE FUNCTION gigavector.namespace_count_insert()', tbl);
	EXECUTE format('CREATE TRIGGER gv_count_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS gv_old_rows '
				   'FOR EACH STATEMENT EXECUTE FUNCTION gigavector.namespace_count_delete()', tbl);
	EXECUTE format('CREATE TRIGGER gv_count_truncate AFTER TRUNCATE ON %s '
				   'FOR EACH STATEMENT EXECUTE FUNCTION gigavector.namespace_count_truncate()', tbl);
	EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', name, role_name);
	EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %I', tbl, role_name);
	EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO %I',
				   pg_get_serial_sequence(tbl::text, 'id'), role_name);
	INSERT INTO gigavector.namespace_registry (name, relid, dimension, index, distance, max_vectors, role)
		VALUES (name, tbl, dimension, index, distance, max_vectors, role_name);
	RETURN role_name;
END $$;
REVOKE ALL ON FUNCTION gigavector.create_namespace(text, integer, text, text, bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION gigavector.create_namespace(text, integer, text, text, bigint, text) IS
	'create a namespace: schema, role gv_ns_<name>, table vectors with its indexes and quota; returns the role';

-- Drop a namespace: its schema with everything in it, its row and its role.
CREATE FUNCTION gigavector.drop_namespace(name text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, @extschema@, pg_temp AS $$
DECLARE
	role_name name;
BEGIN
	DELETE FROM gigavector.namespace_registry r WHERE r.name = drop_namespace.name
		RETURNING r.role INTO role_name;
	IF role_name IS NULL THEN
		RAISE EXCEPTION 'namespace "%" does not exist', name USING ERRCODE = 'invalid_schema_name';
	END IF;
	EXECUTE format('DROP SCHEMA %I CASCADE', name);
	DELETE FROM gigavector.api_keys k WHERE k.role = role_name;
	EXECUTE format('DROP ROLE %I', role_name);
END $$;
REVOKE ALL ON FUNCTION gigavector.drop_namespace(text) FROM PUBLIC;
COMMENT ON FUNCTION gigavector.drop_namespace(text) IS
	'drop a namespace: its schema, its API keys and its role';

-- Change (or lift, with NULL) a namespace's quota.
CREATE FUNCTION gigavector.set_namespace_quota(name text, max_vectors bigint) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, @extschema@, pg_temp AS $$
BEGIN
	UPDATE gigavector.namespace_registry r SET max_vectors = set_namespace_quota.max_vectors
		WHERE r.name = set_namespace_quota.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'namespace "%" does not exist', name USING ERRCODE = 'invalid_schema_name';
	END IF;
END $$;
REVOKE ALL ON FUNCTION gigavector.set_namespace_quota(text, bigint) FROM PUBLIC;

-- The REST server's API keys: never the key, only a salted scrypt hash of its
-- secret part.  Only the table's owner (and superusers) may read it.
CREATE TABLE gigavector.api_keys (
	key_id		text PRIMARY KEY,
	name		text NOT NULL,
	role		name,
	salt		bytea NOT NULL,
	hash		bytea NOT NULL,
	created		timestamptz NOT NULL DEFAULT now(),
	expires		timestamptz,
	revoked		timestamptz
);
REVOKE ALL ON gigavector.api_keys FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('gigavector.api_keys', '');
COMMENT ON TABLE gigavector.api_keys IS
	'API keys of the REST server (salted scrypt hashes); read only by the owner';
