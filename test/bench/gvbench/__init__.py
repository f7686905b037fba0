"""gvbench — data sets, ground truth and recall/speed sweeps for gigavector.

The package is shared by test/bench/bench.py (side-by-side benchmarks against
whatever peers are installed), test/bench/demo.py and the other scripts of
test/bench (bm25_bench.py for text).  Everything in it is
generic over the vector type's name: the same code drives pgvector's
`vector` and gigavector's `gvector`, which share the text form '[1,2,3]',
the binary wire format and the operators <->, <=>, <#>.

Modules:
    dataset      read Fashion-MNIST from its idx files; COPY it into a table
    groundtruth  exact k-NN ids with numpy, cached on disk; tie-aware recall
    sweep        run a query set under a list of SET configurations and
                 measure queries/s, recall@k and rows returned
    plot         recall/QPS plots (matplotlib, Agg backend)
    progress     a tqdm-like progress bar on stderr (tqdm when importable)
    debian_text  Debian's package descriptions as a text corpus (a private
                 apt-get update with Translation-en), and seeded queries
    bm25_oracle  exact BM25 in Python over PostgreSQL's own tokens (the
                 yardstick of gv_bm25's scores, shared with python/tests)
"""

METRICS = {
    # metric name: (operator, operator-class suffix)
    "l2": ("<->", "l2_ops"),
    "cosine": ("<=>", "cosine_ops"),
    "ip": ("<#>", "ip_ops"),
}

__all__ = ["METRICS"]
