#!/usr/bin/python3
"""Build time of gv_ivfpq against pgvector's ivfflat, interleaved.

Builds both on Fashion-MNIST with the same lists, alternately, --repeat
times (the 2-core build machines vary by up to 1.7x from one minute to the
next, so a single pair of builds says little), and prints each pair's
ratio and the median ratio.

    bash test/bench/run ivf_build.py [--lists 245] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import psycopg  # noqa: E402

from gvbench import dataset as dsmod  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", default="")
    p.add_argument("--lists", type=int, default=245)
    p.add_argument("--gv-with", default="subquantizers = 49, bits = 8")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--schema", default="gv_bench")
    p.add_argument("--maintenance-work-mem", default="1GB")
    args = p.parse_args(argv)

    conn = psycopg.connect(args.dsn, autocommit=True)
    for ext in ("gigavector", "vector"):
        conn.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
    ds = dsmod.load_fashion_mnist()
    for t in ("gvector", "vector"):
        dsmod.ensure_table(conn, f"{args.schema}.fmnist_{t}", t, ds.base, ds.base_labels)
    conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
    builds = {
        "gv_ivfpq": f"CREATE INDEX ivf_build_gv ON {args.schema}.fmnist_gvector USING gv_ivfpq (emb) "
                    f"WITH (lists = {args.lists}, {args.gv_with})",
        "ivfflat": f"CREATE INDEX ivf_build_pg ON {args.schema}.fmnist_vector USING ivfflat "
                   f"(emb vector_l2_ops) WITH (lists = {args.lists})",
    }
    ratios = []
    print("| repeat | gv_ivfpq s | ivfflat s | ratio |")
    print("|---|---|---|---|")
    for rep in range(args.repeat):
        secs = {}
        order = list(builds) if rep % 2 == 0 else list(reversed(builds))
        for name in order:
            t0 = time.perf_counter()
            conn.execute(builds[name])
            secs[name] = time.perf_counter() - t0
            conn.execute(f"DROP INDEX {args.schema}.ivf_build_{'gv' if name == 'gv_ivfpq' else 'pg'}")
        ratios.append(secs["gv_ivfpq"] / secs["ivfflat"])
        print(f"| {rep + 1} | {secs['gv_ivfpq']:.1f} | {secs['ivfflat']:.1f} | {ratios[-1]:.2f} |", flush=True)
    print(f"median build ratio gv_ivfpq / ivfflat: {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
