"""A jsonb filter column of gv_hnsw: @>, ?, ?|, ?&, @> ANY(...) and ->> = are
index conditions (EXPLAIN says so), tested on each row's signature and rechecked,
so the rows come back in exact distance order with recall@k >= 0.95 against
numpy's exact answer on the filtered rows, at selectivities from 0.1% to
90%.  Index scans are forced (enable_seqscan off) so that the access method
answers.
"""

import json

import numpy as np
import pytest
from test_filtered_scans import CLASSES, DIM, K, N, check_scan, data, vec  # noqa: F401 (data: a fixture)


def meta_of(i, label):
    m = {"label": label, "m1000": i % 1000, "m100": i % 100, "m10": i % 10,
         "half": "even" if i % 2 == 0 else "odd", "tags": [f"t{i % 3}", f"u{i % 7}"],
         "price": round((i % 50) * 1.5, 1)}
    if i % 100 == 42:
        m["rare"] = True
    return m


# name -> (SQL condition, numpy mask of (ids, labels, query label))
FILTERS = {
    "0.1% @>": ("meta @> '{\"m1000\": 7}'", lambda ids, lab, ql: ids % 1000 == 7),
    "1% @>": ("meta @> '{\"m100\": 7}'", lambda ids, lab, ql: ids % 100 == 7),
    "1% ?": ("meta ? 'rare'", lambda ids, lab, ql: ids % 100 == 42),
    "1.4% two keys": ("meta @> '{\"m10\": 3, \"tags\": [\"u2\"]}'",
                      lambda ids, lab, ql: (ids % 10 == 3) & (ids % 7 == 2)),
    "10% @>": ("meta @> '{\"m10\": 3}'", lambda ids, lab, ql: ids % 10 == 3),
    "10% another class": ("meta @> %(other)s::jsonb", lambda ids, lab, ql: lab == (ql + 1) % CLASSES),
    "14% array element": ("meta @> '{\"tags\": [\"u4\"]}'", lambda ids, lab, ql: ids % 7 == 4),
    "2% number written as 12.0": ("meta @> '{\"price\": 12.0}'",
                                  lambda ids, lab, ql: (ids % 50) * 1.5 == 12.0),
    "50% @>": ("meta @> '{\"half\": \"even\"}'", lambda ids, lab, ql: ids % 2 == 0),
    "90% @> ANY": ("meta @> ANY(ARRAY['{\"m10\": 0}', '{\"m10\": 1}', '{\"m10\": 2}', '{\"m10\": 4}', "
                   "'{\"m10\": 5}', '{\"m10\": 6}', '{\"m10\": 7}', '{\"m10\": 8}', '{\"m10\": 9}']::jsonb[])",
                   lambda ids, lab, ql: ids % 10 != 3),
    "1% ?| ?&": ("meta ?| '{rare,nothing}' AND meta ?& '{m10,tags}'", lambda ids, lab, ql: ids % 100 == 42),
    # ->> = : a lossy index condition, the clause rechecked as a Filter
    "10% ->> number": ("meta ->> 'm10' = '3'", lambda ids, lab, ql: ids % 10 == 3),
    "50% ->> string": ("meta ->> 'half' = 'odd'", lambda ids, lab, ql: ids % 2 == 1),
    "1% ->> boolean": ("meta ->> 'rare' = 'true'", lambda ids, lab, ql: ids % 100 == 42),
}

INDEXES = {
    "l2": ("gvector_l2_ops", "<->"),
    "cosine": ("gvector_cosine_ops", "<=>"),
}


@pytest.fixture(scope="module")
def table(dsn, data):
    import psycopg

    base, labels, _, _ = data
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS gigavector")
        c.execute("DROP TABLE IF EXISTS filtj")
        c.execute(f"CREATE TABLE filtj (id int PRIMARY KEY, meta jsonb, emb gvector({DIM}))")
        with c.cursor().copy("COPY filtj (id, meta, emb) FROM STDIN") as cp:
            for i in range(N):
                cp.write_row((i, json.dumps(meta_of(i, int(labels[i]))),
                              vec(base[i].astype(np.float32))))
        c.execute("ANALYZE filtj")
    yield "filtj"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS filtj")


def other_class(other):
    return {"other": json.dumps({"label": other})}


@pytest.mark.parametrize("index", list(INDEXES))
def test_jsonb_filter_column_exact_order_and_recall(conn, table, data, index):
    opclass, op = INDEXES[index]
    conn.execute("DROP INDEX IF EXISTS filtj_emb")
    conn.execute(f"CREATE INDEX filtj_emb ON filtj USING gv_hnsw (emb {opclass}, meta)")
    try:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        failures = []
        for fname, (where, mask_of) in FILTERS.items():
            plan = "\n".join(r[0] for r in conn.execute(
                f"EXPLAIN SELECT id FROM filtj WHERE {where} ORDER BY emb {op} %(q)s::gvector LIMIT {K}",
                {"q": vec(data[2][0]), "other": json.dumps({"label": 1})}))
            if "Index Cond: " not in plan or ("Filter:" in plan) != ("->>" in where):
                failures.append(f"{index} / {fname}: not an index condition:\n{plan}")
            recall, problems = check_scan(conn, data, op, where, mask_of, f"{index} / {fname}",
                                          "filtj", other_class)
            failures += problems
            if recall < 0.95:
                failures.append(f"{index} / {fname}: recall@{K} {recall:.3f} < 0.95")
        assert not failures, "\n".join(failures)
    finally:
        conn.execute("RESET enable_seqscan")
        conn.execute("RESET enable_bitmapscan")
        conn.execute("DROP INDEX IF EXISTS filtj_emb")


def test_jsonb_signature_rejects_most_non_matching_rows(conn, table, data):
    """The recheck removes few rows: the signature, not the executor, does
    the filtering (0.1% of the rows match; fewer than as many again are
    false positives)."""
    conn.execute("DROP INDEX IF EXISTS filtj_emb")
    conn.execute("CREATE INDEX filtj_emb ON filtj USING gv_hnsw (emb, meta)")
    try:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT id FROM filtj "
            "WHERE meta @> '{\"m1000\": 7}' ORDER BY emb <-> %s::gvector LIMIT 100",
            (vec(data[2][0]),)))
        assert "actual rows=6 " in plan, plan
        removed = [int(line.split(":")[1]) for line in plan.splitlines() if "Removed by Index Recheck" in line]
        assert sum(removed) <= 6, plan
    finally:
        conn.execute("RESET enable_seqscan")
        conn.execute("DROP INDEX IF EXISTS filtj_emb")
