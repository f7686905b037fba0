"""Namespaces: the SQL functions (names checked, objects made, privileges),
isolation shown by connecting as each tenant's role, the quota under
concurrent inserts from several sessions, the Python API, the seed example."""

import threading
import uuid
import warnings

import psycopg
import pytest

from gigavector import (DistanceType, GigaVectorError, GigaVectorWarning, IndexType, Namespace,
                        NamespaceConfig, NamespaceManager)
from gigavector.database import acting_role


def _name(prefix="ns"):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def sql(conn):
    """A superuser connection and create(name, ...): namespaces dropped afterwards."""
    made = []

    def create(name, *args):
        placeholders = ", ".join(["%s"] * (1 + len(args)))
        role = conn.execute(f"SELECT gigavector.create_namespace({placeholders})",
                            (name, *args)).fetchone()[0]
        made.append(name)
        return role
    yield conn, create
    for name in made:
        try:
            conn.execute("SELECT gigavector.drop_namespace(%s)", (name,))
        except psycopg.Error:
            pass


def refused(conn, query, params=()):
    """(sqlstate, message) of the error query raises."""
    with pytest.raises(psycopg.Error) as info:
        conn.execute(query, params)
    return info.value.sqlstate, info.value.diag.message_primary


# ------------------------------------------------------------------ SQL


def test_create_namespace_makes_schema_role_table_indexes(sql):
    conn, create = sql
    name = _name()
    assert create(name, 3, "hnsw", "cosine", 10) == f"gv_ns_{name}"
    row = conn.execute("SELECT name, dimension, index, distance, rows, max_vectors, owner "
                       "FROM gigavector.namespaces WHERE name = %s", (name,)).fetchone()
    assert row == (name, 3, "hnsw", "cosine", 0, 10, f"gv_ns_{name}")
    cols = conn.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum",
                        (f"{name}.vectors",)).fetchall()
    assert cols == [("id", "bigint"), ("embedding", "gvector(3)"), ("metadata", "jsonb")]
    idx = conn.execute("SELECT a.amname, o.opcname FROM pg_index i JOIN pg_class c ON "
                       "c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam JOIN pg_opclass o "
                       "ON o.oid = i.indclass[0] WHERE i.indrelid = %s::regclass ORDER BY 1",
                       (f"{name}.vectors",)).fetchall()
    assert idx == [("btree", "int8_ops"), ("gin", "jsonb_path_ops"),
                   ("gv_hnsw", "gvector_cosine_ops")]
    # the vector index holds metadata as a filter column, as a collection's does
    keys = conn.execute("SELECT pg_get_indexdef(i.indexrelid, k, false) FROM pg_index i "
                        "JOIN pg_am a ON a.oid = (SELECT relam FROM pg_class WHERE oid = i.indexrelid), "
                        "generate_series(1, i.indnkeyatts) k WHERE i.indrelid = %s::regclass "
                        "AND a.amname = 'gv_hnsw' ORDER BY k", (f"{name}.vectors",)).fetchall()
    assert keys == [("embedding",), ("metadata",)]
    privs = conn.execute(
        "SELECT has_table_privilege(%(r)s, %(t)s, 'SELECT'), has_table_privilege(%(r)s, %(t)s, "
        "'INSERT'), has_table_privilege(%(r)s, %(t)s, 'TRUNCATE'), "
        "has_schema_privilege(%(r)s, %(n)s, 'CREATE'), "
        "has_table_privilege(%(r)s, 'gigavector.namespace_registry', 'UPDATE'), "
        "(SELECT rolcanlogin OR rolsuper FROM pg_roles WHERE rolname = %(r)s)",
        {"r": f"gv_ns_{name}", "t": f"{name}.vectors", "n": name}).fetchone()
    assert privs == (True, True, False, False, False, False)


def test_create_namespace_refuses_bad_arguments(sql):
    conn, create = sql
    assert refused(conn, "SELECT gigavector.create_namespace('Bad-Name', 3)") == \
        ("42602", 'invalid namespace name "Bad-Name"')
    assert refused(conn, "SELECT gigavector.create_namespace('a; drop table x', 3)") == \
        ("42602", 'invalid namespace name "a; drop table x"')
    assert refused(conn, "SELECT gigavector.create_namespace('pg_x', 3)") == \
        ("42939", 'namespace name "pg_x" is reserved')
    assert refused(conn, "SELECT gigavector.create_namespace('public', 3)") == \
        ("42939", 'namespace name "public" is reserved')
    assert refused(conn, "SELECT gigavector.create_namespace('okname', 0)") == \
        ("22023", "dimension must be from 1 to 16000, not 0")
    assert refused(conn, "SELECT gigavector.create_namespace('okname', 3, 'btree')") == \
        ("22023", 'unknown index "btree"')
    assert refused(conn, "SELECT gigavector.create_namespace('okname', 3, 'hnsw', 'l1')") == \
        ("22023", 'unknown distance "l1"')
    assert refused(conn, "SELECT gigavector.create_namespace('okname', 3, 'hnsw', 'l2', -1)") == \
        ("22023", "max_vectors must be at least 0, not -1")
    name = _name()
    create(name, 3)
    assert refused(conn, "SELECT gigavector.create_namespace(%s, 3)", (name,)) == \
        ("42P06", f'namespace "{name}" already exists')
    assert refused(conn, "SELECT gigavector.drop_namespace('never_made')") == \
        ("3F000", 'namespace "never_made" does not exist')
    # nothing half-made is left by the refusals
    assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'gv_ns_okname'").fetchone() \
        == (0,)


def test_management_is_not_for_public(conn):
    for fn in ("gigavector.create_namespace(text, integer, text, text, bigint, text)",
               "gigavector.drop_namespace(text)", "gigavector.set_namespace_quota(text, bigint)"):
        assert conn.execute("SELECT has_function_privilege('public', %s, 'EXECUTE')",
                            (fn,)).fetchone() == (False,)


def test_tenant_roles_are_isolated_in_sql(sql):
    conn, create = sql
    a, b = _name("a"), _name("b")
    role_a, role_b = create(a, 2), create(b, 2)
    conn.execute(f"INSERT INTO {a}.vectors (embedding) VALUES ('[1,1]')")
    conn.execute(f"INSERT INTO {b}.vectors (embedding) VALUES ('[2,2]'), ('[3,3]')")
    with conn.transaction():
        conn.execute(f"SET LOCAL ROLE {role_a}")
        assert conn.execute(f"SELECT count(*) FROM {a}.vectors").fetchone() == (1,)
        conn.execute(f"INSERT INTO {a}.vectors (embedding) VALUES ('[4,4]')")
        assert [r[0] for r in conn.execute("SELECT name FROM gigavector.namespaces")] == [a]
    for query in (f"SELECT count(*) FROM {b}.vectors",
                  f"SELECT id FROM {b}.vectors ORDER BY embedding <-> '[1,1]' LIMIT 1",
                  f"INSERT INTO {b}.vectors (embedding) VALUES ('[9,9]')",
                  f"DELETE FROM {b}.vectors"):
        with conn.transaction():
            conn.execute(f"SET LOCAL ROLE {role_a}")
            assert refused(conn, query) == ("42501", f"permission denied for schema {b}")
    with conn.transaction():
        conn.execute(f"SET LOCAL ROLE {role_b}")
        assert conn.execute(f"SELECT count(*) FROM {b}.vectors").fetchone() == (2,)
    for query in (f"TRUNCATE {b}.vectors",
                  "UPDATE gigavector.namespace_registry SET max_vectors = NULL",
                  f"ALTER TABLE {b}.vectors DISABLE TRIGGER gv_count_insert"):
        with conn.transaction():
            conn.execute(f"SET LOCAL ROLE {role_b}")
            assert refused(conn, query)[0] == "42501"
    assert conn.execute(f"SELECT count(*) FROM {b}.vectors").fetchone() == (2,)


def test_rows_are_counted_through_every_write(sql):
    conn, create = sql
    name = _name()
    create(name, 2)

    def rows():
        return conn.execute("SELECT rows FROM gigavector.namespaces WHERE name = %s",
                            (name,)).fetchone()[0]
    conn.execute(f"INSERT INTO {name}.vectors (embedding) SELECT '[1,1]' FROM generate_series(1, 7)")
    assert rows() == 7
    with conn.cursor().copy(f"COPY {name}.vectors (embedding) FROM STDIN") as copy:
        for _ in range(3):
            copy.write_row(("[2,2]",))
    assert rows() == 10
    conn.execute(f"DELETE FROM {name}.vectors WHERE id <= 4")
    assert rows() == 6
    conn.execute(f"INSERT INTO {name}.vectors (id, embedding) VALUES (5, '[3,3]') "
                 f"ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding")
    assert rows() == 6  # an update, not an insert
    conn.execute(f"TRUNCATE {name}.vectors")
    assert rows() == 0


def test_quota_holds_under_concurrent_sessions(sql, dsn):
    conn, create = sql
    name = _name("q")
    role = create(name, 2, "hnsw", "l2", 60)
    ok = []
    full = []
    other = []

    def insert_many(w):
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"SET ROLE {role}")
            for i in range(20):
                try:
                    c.execute(f"INSERT INTO {name}.vectors (embedding, metadata) "
                              f"VALUES ('[{w},{i}]', %s)", (f'{{"w": {w}}}',))
                    ok.append((w, i))
                except psycopg.Error as e:
                    (full if e.sqlstate == "53400" else other).append(str(e))

    threads = [threading.Thread(target=insert_many, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert other == []
    assert len(ok) == 60 and len(full) == 60
    assert full[0].startswith(f'namespace "{name}" is full: it holds at most 60 vectors')
    assert conn.execute(f"SELECT count(*) FROM {name}.vectors").fetchone() == (60,)
    assert conn.execute("SELECT rows FROM gigavector.namespaces WHERE name = %s",
                        (name,)).fetchone() == (60,)
    conn.execute("SELECT gigavector.set_namespace_quota(%s, NULL)", (name,))
    conn.execute(f"INSERT INTO {name}.vectors (embedding) VALUES ('[0,0]')")
    assert conn.execute(f"SELECT count(*) FROM {name}.vectors").fetchone() == (61,)


# ------------------------------------------------------------------ Python


def test_namespace_manager_api(dsn):
    with NamespaceManager(dsn) as mgr, warnings.catch_warnings():
        # a new namespace's index is current: opening it warns of nothing
        warnings.simplefilter("error", GigaVectorWarning)
        name = _name("py")
        ns = mgr.create(NamespaceConfig(name, 3, index=IndexType.HNSW,
                                        distance=DistanceType.COSINE, max_vectors=5))
        try:
            assert isinstance(ns, Namespace)
            assert (ns.name, ns.role, ns.max_vectors) == (name, f"gv_ns_{name}", 5)
            assert (ns.dimension, ns.index, ns.index_distance) == \
                (3, IndexType.HNSW, DistanceType.COSINE)
            ids = ns.add_vectors([[1, 0, 0], [0, 1, 0]], [{"k": 1}, {"k": 2}])
            assert ns.count == 2 and ns.count() == 2 and ns.count({"k": 2}) == 1 and len(ns) == 2
            hits = ns.search([1, 0.1, 0], 1, DistanceType.COSINE)
            assert hits[0].id == ids[0]
            assert mgr.get(name) is ns and mgr.get("no_such_ns") is None
            info = mgr.info(name)
            assert (info.rows, info.max_vectors, info.index, info.distance) == (2, 5, "hnsw", "cosine")
            with pytest.raises(GigaVectorError) as e:
                ns.add_vectors([[1, 1, 1]] * 4)
            assert e.value.sqlstate == "53400"
            with pytest.raises(GigaVectorError) as e:
                mgr.create(NamespaceConfig(name, 3))
            assert e.value.sqlstate == "42P06" and str(e.value) == f'namespace "{name}" already exists'
            with pytest.raises(ValueError, match="invalid namespace name 'No'"):
                mgr.create(NamespaceConfig("No", 3))
            # the namespace's own role reads it; it sees no other namespace
            other = mgr.create(NamespaceConfig(_name("py"), 3))
            try:
                with acting_role(ns.role):
                    assert ns.count() == 2
                    assert [i.name for i in mgr.list()] == [name]
                    with pytest.raises(GigaVectorError) as e:
                        other.count()
                    assert e.value.sqlstate == "42501"
            finally:
                mgr.drop(other.name)
        finally:
            mgr.drop(name)
        assert mgr.get(name) is None
        with psycopg.connect(dsn) as c:
            assert c.execute("SELECT to_regnamespace(%s), (SELECT count(*) FROM pg_roles WHERE "
                             "rolname = %s)", (name, f"gv_ns_{name}")).fetchone() == (None, 0)


def test_seed_namespaces_example(tmp_path, capsys):
    """The seed README's namespaces example, verbatim but for the data folder."""
    # Create namespace manager
    ns_mgr = NamespaceManager(str(tmp_path / "data"))

    # Create isolated namespaces for different tenants
    config = NamespaceConfig(name="tenant_a", dimension=128)
    tenant_a = ns_mgr.create(config)

    config = NamespaceConfig(name="tenant_b", dimension=128)
    tenant_b = ns_mgr.create(config)

    # Each namespace is isolated
    tenant_a.add_vector([0.1] * 128)
    tenant_b.add_vector([0.2] * 128)

    print(f"Tenant A vectors: {tenant_a.count}")
    print(f"Tenant B vectors: {tenant_b.count}")

    ns_mgr.close()
    assert capsys.readouterr().out == "Tenant A vectors: 1\nTenant B vectors: 1\n"
