#!/usr/bin/python3
"""gv_ivfpq side by side with Faiss IndexIVFPQ (in-process), Fashion-MNIST.

Both indexes get the same lists, subquantizers and bits; each (probes,
rerank) pair is run on both, interleaved: gv_ivfpq through one connection
and a prepared statement (gvbench.sweep), Faiss one query at a time on one
thread, its `rerank` best ADC candidates re-ranked exactly with numpy (what
gv_ivfpq does with the heap rows).  Reported: recall@k of both against
exact ground truth, the difference, q/s of both and their ratio, build
seconds and index bytes.  Absolute numbers on the 2-core build machines are
noisy; the ratios measured side by side are what count.

    bash test/bench/run ivfpq_faiss.py [--queries 500] [--probes 4,8,16] [--rerank 40,100]

Needs python3-faiss (bash test/setup --peers).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

from gvbench import dataset as dsmod  # noqa: E402
from gvbench.sweep import sweep  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ints(s: str):
    return [int(x) for x in s.split(",") if x.strip()]


def faiss_run(faiss, index, base, queries, gt, probes, rerank, k, warmup=10):
    """Search every query alone (as a connection would), re-rank exactly."""
    index.nprobe = probes
    recalls = []
    for q in queries[:warmup]:
        index.search(q[None, :], rerank)
    t0 = time.perf_counter()
    results = []
    for q in queries:
        _, cand = index.search(q[None, :], rerank)
        cand = cand[0][cand[0] >= 0]
        diff = base[cand] - q
        d = np.einsum("ij,ij->i", diff, diff)
        results.append(cand[np.argsort(d, kind="stable")[:k]])
    secs = time.perf_counter() - t0
    for qi, ids in enumerate(results):
        recalls.append(gt.recall(qi, [int(i) for i in ids], k))
    return len(queries) / secs, float(np.mean(recalls))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", default="")
    p.add_argument("--lists", type=int, default=245)
    p.add_argument("--subquantizers", type=int, default=49)
    p.add_argument("--bits", type=int, default=8)
    p.add_argument("--probes", default="4,8,16")
    p.add_argument("--rerank", default="40,100")
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--schema", default="gv_bench")
    p.add_argument("--maintenance-work-mem", default="1GB")
    p.add_argument("--train", type=int, default=0,
                   help="Faiss training sample (default: what gv_ivfpq samples, "
                        "max(50 lists, 20 * 2^bits) vectors)")
    args = p.parse_args(argv)

    try:
        import faiss
    except ImportError:
        log("python3-faiss is not installed (bash test/setup --peers): nothing to compare")
        return 1

    setup = dsmod.fmnist_for_peer(args.dsn, args.schema, args.queries)
    base, queries, gt, conn, table = setup.base, setup.queries, setup.gt, setup.conn, setup.table
    dim = base.shape[1]

    # builds, one after the other
    opts = f"lists = {args.lists}, subquantizers = {args.subquantizers}, bits = {args.bits}"
    conn.execute(f"DROP INDEX IF EXISTS {args.schema}.gvbench_ivfpq_faiss")
    conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
    t0 = time.perf_counter()
    conn.execute(f"CREATE INDEX gvbench_ivfpq_faiss ON {table} USING gv_ivfpq (emb) WITH ({opts})")
    gv_build = time.perf_counter() - t0
    gv_bytes = conn.execute(f"SELECT pg_relation_size('{args.schema}.gvbench_ivfpq_faiss')").fetchone()[0]
    log(f"gv_ivfpq ({opts}): {gv_build:.1f} s, {gv_bytes / 2**20:.1f} MB")

    ntrain = args.train or max(50 * args.lists, 20 << args.bits)
    sample = base[np.random.default_rng(42).permutation(len(base))[:ntrain]]
    t0 = time.perf_counter()
    quantizer = faiss.IndexFlatL2(dim)
    index = faiss.IndexIVFPQ(quantizer, dim, args.lists, args.subquantizers, args.bits)
    index.train(sample)
    index.add(base)
    fa_build = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)    # searches: one query at a time, one thread
    fa_bytes = index.ntotal * (index.code_size + 8) + 4 * dim * (args.lists + (1 << args.bits))
    log(f"Faiss IndexIVFPQ: {fa_build:.1f} s, ~{fa_bytes / 2**20:.1f} MB (codes + ids + centroids)")

    rows = []
    for probes in ints(args.probes):
        for rerank in ints(args.rerank):
            label = f"probes={probes} rerank={rerank}"
            res = sweep(args.dsn, table, "emb", "<->", args.k,
                        [(label, ["SET enable_seqscan = off",
                                  f"SET gigavector.ivfpq_probes = {probes}",
                                  f"SET gigavector.ivfpq_rerank = {rerank}"])],
                        queries, gt, "gvector", name="gv_ivfpq")[0]
            fq, fr = faiss_run(faiss, index, base, queries, gt, probes, rerank, args.k)
            log(f"  Faiss IVFPQ+rerank     {label:<16} {fq:9.1f} q/s  recall@{args.k} {fr:.4f}")
            rows.append((probes, rerank, res.recall, fr, res.qps, fq))
    conn.execute(f"DROP INDEX IF EXISTS {args.schema}.gvbench_ivfpq_faiss")

    print(f"Fashion-MNIST 60000 x {dim}, {len(queries)} queries, k={args.k}; "
          f"lists {args.lists}, subquantizers {args.subquantizers}, bits {args.bits}; "
          f"Faiss {faiss.__version__} trained on {ntrain} vectors (all cores), searching on 1 thread")
    print(f"build: gv_ivfpq {gv_build:.1f} s, Faiss {fa_build:.1f} s; "
          f"size: gv_ivfpq {gv_bytes / 2**20:.1f} MB, Faiss ~{fa_bytes / 2**20:.1f} MB")
    print()
    print("| probes | rerank | recall gv_ivfpq | recall Faiss | difference | q/s gv_ivfpq | q/s Faiss | q/s ratio gv/Faiss |")
    print("|---|---|---|---|---|---|---|---|")
    for probes, rerank, gr, fr, gq, fq in rows:
        print(f"| {probes} | {rerank} | {gr:.3f} | {fr:.3f} | {gr - fr:+.3f} | {gq:.0f} | {fq:.0f} | {gq / fq:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
