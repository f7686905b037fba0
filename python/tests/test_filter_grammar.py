"""filter_metadata's operators ($eq, $ne, $lt, $lte, $gt, $gte, $in, $nin,
$exists) against a Python oracle on the same metadata, through an HNSW
collection, in exact distance order; bad operands give ValueError."""

import numpy as np
import pytest

from gigavector import IndexType

N = 400


def rows():
    rng = np.random.default_rng(7)
    out = []
    for i in range(N):
        meta = {"price": float(round(rng.uniform(0, 100), 2)), "category": "ABCD"[i % 4], "n": i}
        if i % 7 == 0:
            meta["tag"] = "x"          # present on some rows only
        if i % 11 == 0:
            meta["price"] = "n/a"      # a string where others hold numbers
        out.append((meta, [float(rng.standard_normal()), float(rng.standard_normal())]))
    return out


def holds(meta, cond):
    for key, c in cond.items():
        ops = c if isinstance(c, dict) and c and all(k.startswith("$") for k in c) else {"$eq": c}
        for op, x in ops.items():
            present = key in meta
            v = meta.get(key)
            same_type = present and isinstance(v, str) == isinstance(x, str)
            ok = {
                "$eq": lambda: present and v == x,
                "$ne": lambda: not (present and v == x),
                "$lt": lambda: same_type and v < x,
                "$lte": lambda: same_type and v <= x,
                "$gt": lambda: same_type and v > x,
                "$gte": lambda: same_type and v >= x,
                "$in": lambda: present and v in x,
                "$nin": lambda: not (present and v in x),
                "$exists": lambda: present == x,
            }[op]()
            if not ok:
                return False
    return True


CASES = [
    {"price": {"$lt": 20}},
    {"price": {"$gte": 90.5}, "category": "B"},
    {"price": {"$gt": 10, "$lte": 30}, "category": {"$in": ["A", "C"]}},
    {"category": {"$nin": ["A", "B", "C"]}},
    {"category": {"$in": []}},
    {"tag": {"$exists": True}},
    {"tag": {"$exists": False}, "category": {"$ne": "D"}},
    {"price": {"$eq": "n/a"}},
    {"price": {"$lt": "z"}},          # strings compare with strings only
    {"n": {"$in": [3, 5, 8, 400]}},
]


@pytest.mark.parametrize("cond", CASES, ids=[str(c) for c in CASES])
def test_operators_match_oracle(make_db, cond):
    db = make_db("dsn", 2, IndexType.HNSW)
    data = rows()
    db.add_vectors([v for _, v in data], metadata=[m for m, _ in data])
    q = np.array([0.3, -0.2])
    want = [m["n"] for m, v in sorted(data, key=lambda mv: float(np.linalg.norm(np.array(mv[1]) - q)))
            if holds(m, cond)]
    hits = db.search(q.tolist(), k=N, filter_metadata=cond)
    assert [h.vector.metadata["n"] for h in hits] == want
    assert db.count(cond) == len(want)


@pytest.mark.parametrize("cond, message", [
    ({"price": {"$lt": None}}, "takes a number or a string"),
    ({"price": {"$lt": True}}, "takes a number or a string"),
    ({"price": {"$lt": float("nan")}}, "finite number"),
    ({"price": {"$in": "AB"}}, "takes a list of values"),
    ({"price": {"$exists": 1}}, "takes true or false"),
    ({"price": {"$regex": "x"}}, "unknown filter_metadata operator"),
    ({1: "x"}, "keys must be strings"),
])
def test_bad_operands(make_db, cond, message):
    db = make_db("dsn", 2, IndexType.HNSW)
    db.add_vector([0.0, 1.0], metadata={"price": 1})
    with pytest.raises(ValueError, match=message):
        db.search([0.0, 0.0], k=1, filter_metadata=cond)


def test_keys_and_values_are_parameters(make_db):
    db = make_db("dsn", 2, IndexType.HNSW)
    db.add_vector([0.0, 1.0], metadata={"k' OR true --": 1})
    assert db.count({"k' OR true --": {"$gte": 1}}) == 1
    assert db.count({"other": {"$lt": "' OR 1=1 --"}}) == 0
