"""An HNSW (or IVFPQ) collection's gv_hnsw (gv_ivfpq) index holds ``metadata`` as a filter column,
so filter_metadata's containment and $in are index conditions; an index
made by an older version (the vector only) still answers, open() says so,
and rebuild_index() adds metadata to it."""

import warnings

import numpy as np
import pytest
from psycopg import sql

from gigavector import Database, GigaVectorWarning, IndexType


def index_keys(db):
    """The key columns of the collection's gv_hnsw or gv_ivfpq index, as pg_get_indexdef writes them."""
    with db.connection() as c:
        return [r[0] for r in c.execute(
            "SELECT pg_get_indexdef(i.indexrelid, k, true) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam, "
            "generate_series(1, i.indnkeyatts) k WHERE i.indrelid = %s::regclass "
            "AND a.amname IN ('gv_hnsw', 'gv_ivfpq') ORDER BY k", (db.table.as_string(c),))]


def plan_of(db, cond):
    """EXPLAIN of search()'s statement for filter_metadata cond, with the index forced."""
    where, params = Database._metadata_filter(cond)
    with db.connection() as c:
        c.execute("SET enable_seqscan = off")
        c.execute("SET enable_bitmapscan = off")
        stmt = sql.SQL("EXPLAIN SELECT id, embedding <-> %s::gvector AS distance FROM {}{} "
                       "ORDER BY distance LIMIT 5").format(db.table, where)
        plan = "\n".join(r[0] for r in c.execute(stmt, ["[0,0]", *params]))
        c.execute("RESET enable_seqscan")
        c.execute("RESET enable_bitmapscan")
    return plan


def fill(db, n=300):
    rng = np.random.default_rng(9)
    vecs = rng.standard_normal((n, 2)).astype(np.float32)
    metas = [{"category": "ABCDE"[i % 5], "n": i, "price": i % 40} for i in range(n)]
    db.add_vectors(vecs, metas)
    return vecs, metas


def exact(vecs, metas, q, k, keep):
    d = np.sqrt(((vecs - np.asarray(q, dtype=np.float32)) ** 2).sum(axis=1))
    ids = [i for i in np.argsort(d, kind="stable") if keep(metas[i])]
    return [int(i) + 1 for i in ids[:k]]


@pytest.mark.parametrize("mode,itype", [("dsn", IndexType.HNSW), ("dsn", IndexType.IVFPQ)])
def test_metadata_is_a_filter_column(make_db, mode, itype):
    db = make_db(mode, 2, itype)
    vecs, metas = fill(db)
    assert index_keys(db) == ["embedding", "metadata"]
    assert "Index Cond: (metadata @> " in plan_of(db, {"category": "B"})
    assert "Index Cond: (metadata @> ANY " in plan_of(db, {"category": {"$in": ["A", "C"]}})
    # a range is the executor's (after the index's containment test)
    plan = plan_of(db, {"category": "B", "price": {"$lt": 10}})
    assert "Index Cond: (metadata @> " in plan and "Filter: " in plan
    for cond, keep in [({"category": "B"}, lambda m: m["category"] == "B"),
                       ({"category": {"$in": ["A", "C"]}, "price": {"$gte": 30}},
                        lambda m: m["category"] in "AC" and m["price"] >= 30),
                       ({"n": {"$in": [7, 8, 250, 9999]}}, lambda m: m["n"] in (7, 8, 250))]:
        got = [h.id for h in db.search([0.1, -0.2], k=8, filter_metadata=cond)]
        assert got == exact(vecs, metas, [0.1, -0.2], 8, keep), cond


@pytest.mark.parametrize("mode,itype,using", [
    ("dsn", IndexType.HNSW, "gv_hnsw (embedding gvector_l2_ops)"),
    ("dsn", IndexType.IVFPQ, "gv_ivfpq (embedding gvector_l2_ops) WITH (lists = 3)")])
def test_index_of_an_older_version_is_kept_and_rebuilt_on_request(make_db, mode, itype, using):
    db = make_db(mode, 2, itype)
    vecs, metas = fill(db)
    name = db._index_name
    with db.connection() as c:  # what an older version made: the vector only
        c.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(db._schema, name)))
        c.execute(sql.SQL("CREATE INDEX {} ON {} USING " + using)
                  .format(sql.Identifier(name), db.table))
    with pytest.warns(GigaVectorWarning, match=r"made by an older version without metadata in it: "
                      r"filter_metadata is applied after the index scan until rebuild_index\(\)"):
        old = Database.open(db.collection, 2, itype, dsn=db.conninfo)
    assert index_keys(old) == ["embedding"]
    want = exact(vecs, metas, [0.3, 0.3], 5, lambda m: m["category"] == "D")
    assert [h.id for h in old.search([0.3, 0.3], k=5, filter_metadata={"category": "D"})] == want
    old.rebuild_index()
    assert index_keys(old) == ["embedding", "metadata"]
    assert old._index_name == name
    if itype == IndexType.IVFPQ:  # rebuilt with the options it had
        with old.connection() as c:
            assert c.execute("SELECT lists FROM gigavector.ivfpq_info(%s::regclass)",
                             (sql.Identifier(db._schema, name).as_string(c),)).fetchone()[0] == 3
    assert [h.id for h in old.search([0.3, 0.3], k=5, filter_metadata={"category": "D"})] == want
    old.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", GigaVectorWarning)  # migrated: no warning
        Database.open(db.collection, 2, itype, dsn=db.conninfo).close()
