"""BM25 computed in Python over PostgreSQL's own tokens: the yardstick that
gv_bm25's scores are checked against (tests and benchmark), written without
looking at the access method's C code.

Tokens.  `Analyzer` asks the server for the parser's tokens of each text
(`ts_parse`) and maps every distinct (token type, token) once through the
configuration's dictionaries (`ts_lexize`, in pg_ts_config_map order; the
first dictionary that does not answer NULL decides: an empty array is a stop
word, a NULL from all of them drops the token).  That is what to_tsvector
does for configurations whose dictionaries take one token at a time, which
includes every configuration PostgreSQL ships (simple, english, the other
snowball languages).  Like to_tsvector, a token of more than 2,047 bytes is
skipped.  Unlike a tsvector, every occurrence counts: a lexeme seen 1,000
times has tf 1,000 (a tsvector keeps 255 of its positions), and a document's length
dl is its number of lexemes, every occurrence, every lexeme of a token that
has several (a hyphenated word gives the whole word and its parts).
Configurations with multi-token dictionaries (thesaurus) or filtering ones
(unaccent) would tokenize differently: `Analyzer.check_tsvector` compares
the lexemes with to_tsvector's and says which texts disagree.

Scores.  For a query's distinct terms t (its lexemes, duplicates removed)
and a document d of length dl, over N documents of average length avgdl, a
term in n of them:

    idf(t)      = ln(1 + (N - n + 0.5) / (n + 0.5))          (Lucene)
    score(d, q) = sum over t in d of
                  idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))

in float64.  A document without a term of the query does not match (OR
mode); in AND mode it must have all of them.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Dict, Hashable, Iterable, List, Optional, Sequence, Tuple

K1 = 1.2
B = 0.75
MAX_TOKEN_BYTES = 2047  # to_tsvector skips a longer token ("word is too long to be indexed")
TSVECTOR_MAX_POSITIONS = 255  # per lexeme: to_tsvector keeps the first 255
TSVECTOR_MAX_POS = 16383  # later positions are clamped to this one


class Analyzer:
    """Lexemes of texts under one text search configuration, from the server.

    conn: a psycopg connection.  Lexizing is cached per (token type, token),
    so analyzing a corpus asks the dictionaries once per distinct token."""

    def __init__(self, conn, config: str = "english"):
        self.conn = conn
        row = conn.execute("SELECT c.oid, c.cfgparser, c.oid::regconfig::text FROM pg_ts_config c "
                           "WHERE c.oid = %s::regconfig", [config]).fetchone()
        self.config_oid, self.parser_oid, self.config = row
        self.dicts: Dict[int, List[int]] = {
            tokid: list(dicts) for tokid, dicts in conn.execute(
                "SELECT maptokentype, array_agg(mapdict::oid ORDER BY mapseqno) "
                "FROM pg_ts_config_map WHERE mapcfg = %s GROUP BY maptokentype",
                [self.config_oid]).fetchall()}
        self._lexemes: Dict[Tuple[int, str], Tuple[str, ...]] = {}

    def tokens(self, texts: Sequence[str]) -> List[List[Tuple[int, str]]]:
        """(token type, token) of every token of each text that some
        dictionary is mapped to, in text order."""
        out: List[List[Tuple[int, str]]] = [[] for _ in texts]
        if not texts:
            return out
        rows = self.conn.execute(
            "SELECT t.i, p.tokid, p.token FROM unnest(%s::text[]) WITH ORDINALITY AS t(body, i), "
            "LATERAL ts_parse(%s::oid, t.body) AS p WHERE p.tokid = ANY(%s::int[])",
            [list(texts), self.parser_oid, sorted(self.dicts)]).fetchall()
        for i, tokid, token in rows:
            if len(token.encode()) <= MAX_TOKEN_BYTES:
                out[i - 1].append((tokid, token))
        return out

    def _lexize(self, keys: Iterable[Tuple[int, str]]) -> None:
        """Fill the cache for keys: the first dictionary of the token type's
        list that recognizes the token gives its lexemes."""
        by_type: Dict[int, List[str]] = {}
        for tokid, token in keys:
            by_type.setdefault(tokid, []).append(token)
        for tokid, tokens in by_type.items():
            for lo in range(0, len(tokens), 20000):
                part = tokens[lo:lo + 20000]
                rows = self.conn.execute(
                    "SELECT u.i, (SELECT l FROM unnest(%s::oid[]) WITH ORDINALITY AS m(d, s), "
                    "LATERAL ts_lexize(m.d::regdictionary, u.tok) AS l "
                    "WHERE l IS NOT NULL ORDER BY m.s LIMIT 1) "
                    "FROM unnest(%s::text[]) WITH ORDINALITY AS u(tok, i)",
                    [self.dicts[tokid], part]).fetchall()
                for i, lexemes in rows:
                    self._lexemes[(tokid, part[i - 1])] = tuple(lexemes or ())

    def analyze_many(self, texts: Sequence[str], batch: int = 500) -> List[List[str]]:
        """Every lexeme occurrence of each text, in text order."""
        out: List[List[str]] = []
        for lo in range(0, len(texts), batch):
            toks = self.tokens(texts[lo:lo + batch])
            self._lexize({k for t in toks for k in t if k not in self._lexemes})
            out.extend([lex for k in t for lex in self._lexemes[k]] for t in toks)
        return out

    def analyze(self, text: str) -> List[str]:
        return self.analyze_many([text])[0]

    def query_terms(self, text: str) -> List[str]:
        """A query's terms: its distinct lexemes, in order."""
        return list(dict.fromkeys(self.analyze(text)))

    def check_tsvector(self, texts: Sequence[str], batch: int = 500) -> List[int]:
        """Indexes of the texts whose lexemes differ from to_tsvector's:
        another set of lexemes, or (where the tsvector keeps them all: at most
        255 occurrences, no position clamped) other occurrence counts."""
        bad = []
        for lo in range(0, len(texts), batch):
            part = list(texts[lo:lo + batch])
            mine = self.analyze_many(part)
            rows = self.conn.execute(
                "SELECT t.i, v.lexeme, coalesce(array_length(v.positions, 1), 0), "
                "coalesce((SELECT max(p) FROM unnest(v.positions) p), 0) "
                "FROM unnest(%s::text[]) WITH ORDINALITY AS t(body, i), "
                "LATERAL unnest(to_tsvector(%s::oid::regconfig, t.body)) AS v",
                [part, self.config_oid]).fetchall()
            theirs: List[Dict[str, int]] = [{} for _ in part]
            clamped = [False] * len(part)
            for i, lexeme, npos, maxpos in rows:
                theirs[i - 1][lexeme] = npos
                clamped[i - 1] |= maxpos >= TSVECTOR_MAX_POS
            for j, lexemes in enumerate(mine):
                tf = Counter(lexemes)
                if set(tf) != set(theirs[j]):
                    bad.append(lo + j)
                elif not clamped[j] and any(min(c, TSVECTOR_MAX_POSITIONS) != theirs[j][t]
                                            for t, c in tf.items()):
                    bad.append(lo + j)
        return bad


class BM25Oracle:
    """Exact BM25 over a bag of lexemes per document.

    Documents are added (and removed) with their lexeme occurrences, e.g.
    from Analyzer.analyze_many; N counts every document added, also one
    without a lexeme (dl = 0), unless count_empty is False."""

    def __init__(self, k1: float = K1, b: float = B, count_empty: bool = True):
        self.k1 = float(k1)
        self.b = float(b)
        self.count_empty = count_empty
        self.tf: Dict[Hashable, Dict[str, int]] = {}  # doc -> term -> tf
        self.dl: Dict[Hashable, int] = {}
        self.postings: Dict[str, Dict[Hashable, int]] = {}  # term -> doc -> tf
        self.total = 0  # sum of dl
        self.empty = 0  # documents with dl = 0

    # -------------------------------------------------------------- contents

    def add(self, doc_id: Hashable, lexemes: Iterable[str]) -> None:
        """Add a document (replacing one of the same id)."""
        if doc_id in self.dl:
            self.remove(doc_id)
        tf = dict(Counter(lexemes))
        dl = sum(tf.values())
        self.tf[doc_id] = tf
        self.dl[doc_id] = dl
        self.total += dl
        self.empty += dl == 0
        for t, c in tf.items():
            self.postings.setdefault(t, {})[doc_id] = c

    def add_many(self, docs: Iterable[Tuple[Hashable, Iterable[str]]]) -> None:
        for doc_id, lexemes in docs:
            self.add(doc_id, lexemes)

    def remove(self, doc_id: Hashable) -> None:
        tf = self.tf.pop(doc_id)
        dl = self.dl.pop(doc_id)
        self.total -= dl
        self.empty -= dl == 0
        for t in tf:
            p = self.postings[t]
            del p[doc_id]
            if not p:
                del self.postings[t]

    def subset(self, doc_ids: Iterable[Hashable]) -> "BM25Oracle":
        """A new oracle over some of the documents (same k1, b)."""
        o = BM25Oracle(self.k1, self.b, self.count_empty)
        for d in doc_ids:
            o.add(d, Counter(self.tf[d]).elements())
        return o

    def __contains__(self, doc_id: Hashable) -> bool:
        return doc_id in self.dl

    def __len__(self) -> int:
        return len(self.dl)

    # ------------------------------------------------------------ statistics

    @property
    def N(self) -> int:
        return len(self.dl) - (0 if self.count_empty else self.empty)

    @property
    def avgdl(self) -> float:
        return self.total / self.N if self.N else 0.0

    def df(self, term: str) -> int:
        return len(self.postings.get(term, ()))

    def idf(self, term: str) -> float:
        n = self.df(term)
        return math.log(1.0 + (self.N - n + 0.5) / (n + 0.5))

    # ---------------------------------------------------------------- scores

    def _term_score(self, idf: float, tf: int, dl: int, avgdl: float) -> float:
        norm = 1.0 - self.b + (self.b * dl / avgdl if avgdl > 0 else 0.0)
        return idf * tf * (self.k1 + 1.0) / (tf + self.k1 * norm)

    def score(self, doc_id: Hashable, terms: Sequence[str]) -> float:
        """The document's score for the query terms (0.0 when it has none)."""
        tf = self.tf[doc_id]
        avgdl = self.avgdl
        return sum(self._term_score(self.idf(t), tf[t], self.dl[doc_id], avgdl)
                   for t in dict.fromkeys(terms) if t in tf)

    def matches(self, doc_id: Hashable, terms: Sequence[str], mode: str = "or") -> bool:
        tf = self.tf[doc_id]
        terms = list(dict.fromkeys(terms))
        if not terms:
            return False
        if mode == "and":
            return all(t in tf for t in terms)
        return any(t in tf for t in terms)

    def search(self, terms: Sequence[str], k: Optional[int] = None,
               mode: str = "or") -> List[Tuple[Hashable, float]]:
        """Matching documents as (doc_id, score), best first (ties by id),
        the first k of them (all when k is None)."""
        if mode not in ("or", "and"):
            raise ValueError(f"unknown mode {mode!r}")
        terms = list(dict.fromkeys(terms))
        if not terms:
            return []
        avgdl = self.avgdl
        acc: Dict[Hashable, float] = {}
        seen: Counter = Counter()
        for t in terms:
            p = self.postings.get(t)
            if not p:
                continue
            idf = self.idf(t)
            for d, tf in p.items():
                acc[d] = acc.get(d, 0.0) + self._term_score(idf, tf, self.dl[d], avgdl)
                seen[d] += 1
        if mode == "and":
            acc = {d: s for d, s in acc.items() if seen[d] == len(terms)}
        # ties by id (ids of different types, e.g. int and tuple, by type first)
        ranked = sorted(acc.items(), key=lambda x: (-x[1], type(x[0]).__name__, x[0]))
        return ranked if k is None else ranked[:k]

    # ------------------------------------------------------------ comparison

    def hits(self, ids: Sequence[Hashable], terms: Sequence[str], k: int, mode: str = "or",
             rel_tol: float = 1e-9) -> Tuple[int, int]:
        """(how many of the first k distinct ids are in the true top k, how
        many the true top k holds).  Tie-aware: an id counts when it matches
        and its exact score is at least the k-th best score (less rel_tol),
        whichever of several tied documents was returned."""
        truth = self.search(terms, k, mode)
        if not truth:
            return 0, 0
        kth = truth[-1][1]
        got = 0
        for d in list(dict.fromkeys(ids))[:k]:
            if d in self.dl and self.matches(d, terms, mode) \
                    and self.score(d, terms) >= kth - rel_tol * abs(kth):
                got += 1
        return got, len(truth)


def relative_error(got: float, want: float) -> float:
    """|got - want| / |want| (the absolute error when want is 0)."""
    return abs(got - want) / abs(want) if want else abs(got - want)
