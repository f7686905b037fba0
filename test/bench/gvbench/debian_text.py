"""Debian's package descriptions as a text corpus (~64,000 English documents),
and a reproducible set of short queries over it.

In Debian 12 the Packages indexes carry only each package's one-line
synopsis; the long descriptions live in the Translation-en indexes, which
this image's apt does not download (Acquire::Languages "none").  So the
corpus is made by running apt-get update with Acquire::Languages=en into a
private set of lists under the benchmark cache (the system's apt state is
not touched), reading the packages with `apt-cache dumpavail` against those
lists, and joining each record with its Translation-en entry by
Description-md5.

The sources are Debian 12's main archive for amd64 only (no -updates, no
-security), so the corpus changes only at a point release; the release
(InRelease's Version and Date) and a content hash are kept with it, and
the benchmark prints both.  A document is (id, package, text): ids 1..N in
package-name order, text the synopsis line followed by the long
description (its leading spaces removed, " ." lines as empty lines).

The cache lives in $GIGAVECTOR_BENCH_CACHE (default ~/.cache/gigavector-bench):
debian-text/apt/ (the private lists), debian-text/docs.json.gz (the
documents) and debian-text/queries-<seed>-<n>-<config>.json (query sets).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import time
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from psycopg import sql

from .groundtruth import cache_dir
from .progress import progress

MIRROR = os.environ.get("GIGAVECTOR_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
COMPONENT = "main"
ARCH = "amd64"
QUERY_SEED = 20240611
_FORMAT = 1  # of docs.json.gz; bump when the document text changes

# words a query may be made of: letters (a description word) or a letter and
# then letters/digits (a part of a package name), at least three characters
_DESC_WORD = re.compile(r"[A-Za-z][a-z]{2,}")
_NAME_PART = re.compile(r"[a-z][a-z0-9]{2,}")


@dataclasses.dataclass
class Document:
    id: int
    package: str
    text: str


@dataclasses.dataclass
class TextCorpus:
    docs: List[Document]
    release: str  # e.g. "Debian 12.15 bookworm main amd64 (Sat, 11 Jul 2026 ...)"
    fingerprint: str  # short hash of every (id, package, text)
    untranslated: int  # packages without a Translation-en entry (synopsis only)

    def __len__(self) -> int:
        return len(self.docs)


def _dirs() -> Tuple[str, str]:
    top = os.path.join(cache_dir(), "debian-text")
    apt = os.path.join(top, "apt")
    return top, apt


def _apt_options(apt: str) -> List[str]:
    """apt options that keep every file apt reads or writes under apt/."""
    return [
        "-o", f"Dir::State::Lists={apt}/lists",
        "-o", f"Dir::Cache={apt}/cache",
        "-o", f"Dir::Etc::SourceList={apt}/sources.list",
        "-o", f"Dir::Etc::SourceParts={apt}/sources.list.d",
        "-o", "Dir::State::status=/dev/null",
        "-o", "Acquire::Languages=en",
    ]


def fetch_lists(apt: str, log: Callable[[str], None] = print) -> None:
    """apt-get update of Debian's main archive with the English
    translations, into the private folder apt/."""
    for d in ("lists/partial", "cache/archives/partial", "sources.list.d"):
        os.makedirs(os.path.join(apt, d), exist_ok=True)
    with open(os.path.join(apt, "sources.list"), "w") as f:
        f.write(f"deb [arch={ARCH}] {MIRROR} {SUITE} {COMPONENT}\n")
    cmd = ["apt-get", "update", "-q"] + _apt_options(apt)
    if os.geteuid() == 0:
        # apt drops to the _apt user to download, who cannot write into a
        # folder under root's home
        cmd += ["-o", "APT::Sandbox::User=root"]
    log(f"apt-get update (Languages=en) into {apt}")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _list_file(apt: str, suffix: str) -> str:
    lists = os.path.join(apt, "lists")
    found = sorted(n for n in os.listdir(lists) if suffix in n and "_dists_" + SUITE + "_" in n)
    if not found:
        raise FileNotFoundError(f"no *{suffix}* index in {lists}: apt-get update failed?")
    return os.path.join(lists, found[0])


def _read_index(path: str) -> str:
    """An index file's text, decompressed the way apt stored it."""
    out = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True,
                         capture_output=True)
    return out.stdout.decode("utf-8", errors="replace")


def parse_records(text: str) -> Iterator[Dict[str, str]]:
    """deb822 stanzas: {field: value}, continuation lines joined with
    newlines and kept as they are (leading space included)."""
    for stanza in text.split("\n\n"):
        rec: Dict[str, str] = {}
        key = None
        for line in stanza.split("\n"):
            if not line:
                continue
            if line[0] in " \t" and key is not None:
                rec[key] += "\n" + line
            else:
                key, _, value = line.partition(":")
                rec[key] = value.strip()
        if rec:
            yield rec


def description_text(value: str) -> str:
    """A Description field as plain text: the synopsis line, then the long
    description with its one leading space removed and " ." lines blank."""
    lines = value.split("\n")
    out = [lines[0].strip()]
    for line in lines[1:]:
        line = line[1:] if line.startswith(" ") else line
        out.append("" if line == "." else line)
    return "\n".join(out).strip()


def build_documents(dumpavail: str, translations: str) -> Tuple[List[Document], int]:
    """Join the packages (one `apt-cache dumpavail` record each) with their
    English descriptions by Description-md5; ids 1..N in package order.
    Returns the documents and how many had no translation."""
    long_by_md5: Dict[str, str] = {}
    for rec in parse_records(translations):
        md5, desc = rec.get("Description-md5"), rec.get("Description-en")
        if md5 and desc:
            long_by_md5[md5] = desc
    seen = {}
    for rec in parse_records(dumpavail):
        name = rec.get("Package")
        if name and name not in seen:
            seen[name] = rec
    docs = []
    untranslated = 0
    for i, name in enumerate(sorted(seen), start=1):
        rec = seen[name]
        desc = long_by_md5.get(rec.get("Description-md5", ""))
        if desc is None:
            untranslated += 1
            desc = rec.get("Description", "")
        docs.append(Document(i, name, description_text(desc)))
    return docs, untranslated


def _release(apt: str) -> str:
    # a clear-signed file: the first stanza is the signature's header
    fields = next((r for r in parse_records(_read_index(_list_file(apt, "InRelease")))
                   if "Version" in r), {})
    return (f"{fields.get('Label', 'Debian')} {fields.get('Version', '?')} {SUITE} {COMPONENT} "
            f"{ARCH} ({fields.get('Date', '?')})")


def fingerprint(docs: Iterable[Document]) -> str:
    h = hashlib.blake2b(digest_size=6)
    for d in docs:
        h.update(f"{d.id}\0{d.package}\0{d.text}\0".encode())
    return h.hexdigest()


def load_debian_text(refresh: bool = False, log: Callable[[str], None] = print) -> TextCorpus:
    """The corpus from the cache, or fetched and built (refresh: fetch the
    lists again and rebuild)."""
    top, apt = _dirs()
    path = os.path.join(top, "docs.json.gz")
    if not refresh and os.path.exists(path):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            raw = json.load(f)
        if raw.get("format") == _FORMAT:
            docs = [Document(*d) for d in raw["docs"]]
            return TextCorpus(docs, raw["release"], raw["fingerprint"], raw["untranslated"])
    if refresh or not os.path.isdir(os.path.join(apt, "lists")):
        fetch_lists(apt, log)
    t0 = time.perf_counter()
    dump = subprocess.run(["apt-cache"] + _apt_options(apt) + ["dumpavail"], check=True,
                          capture_output=True).stdout.decode("utf-8", errors="replace")
    docs, untranslated = build_documents(dump, _read_index(_list_file(apt, "Translation-en")))
    corpus = TextCorpus(docs, _release(apt), fingerprint(docs), untranslated)
    log(f"{len(docs)} documents ({untranslated} without a long description) from "
        f"{corpus.release} in {time.perf_counter() - t0:.1f} s")
    os.makedirs(top, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump(dict(format=_FORMAT, release=corpus.release, fingerprint=corpus.fingerprint,
                       untranslated=untranslated,
                       docs=[[d.id, d.package, d.text] for d in docs]), f)
    os.replace(tmp, path)
    return corpus


# ---------------------------------------------------------------------------
# queries


def make_queries(docs: Sequence[Document], analyze: Callable[[List[str]], List[List[str]]],
                 n: int, seed: int = QUERY_SEED) -> List[str]:
    """n queries of 1 to 4 words, drawn with a fixed seed.

    Each query comes from one document picked at random: its first word is a
    part of the package's name (split at - + .) half of the time, the others
    words of its description.  analyze maps words to their lexemes (the text
    search configuration's): only words that make exactly one lexeme are
    kept, and no two words of a query make the same lexeme, so every query
    has as many terms as words and every term occurs in the corpus."""
    rng = random.Random(seed)
    lexeme_of: Dict[str, Optional[str]] = {}

    def lexeme(words: List[str]) -> None:
        new = [w for w in dict.fromkeys(words) if w not in lexeme_of]
        for w, lex in zip(new, analyze(new)):
            lexeme_of[w] = lex[0] if len(lex) == 1 else None

    out: List[str] = []
    while len(out) < n:
        d = docs[rng.randrange(len(docs))]
        names = [p for p in re.split(r"[-+.]", d.package) if _NAME_PART.fullmatch(p)]
        words = sorted({w.lower() for w in _DESC_WORD.findall(d.text)})
        lexeme(names + words)
        names = [w for w in names if lexeme_of[w]]
        words = [w for w in words if lexeme_of[w]]
        want = rng.randint(1, 4)
        picked: List[str] = []
        lexemes = set()
        if names and rng.random() < 0.5:
            w = rng.choice(names)
            picked.append(w)
            lexemes.add(lexeme_of[w])
        pool = list(words)
        rng.shuffle(pool)
        for w in pool:
            if len(picked) == want:
                break
            if lexeme_of[w] not in lexemes:
                picked.append(w)
                lexemes.add(lexeme_of[w])
        if picked:
            out.append(" ".join(picked))
    return out


def load_queries(corpus: TextCorpus, analyze: Callable[[List[str]], List[List[str]]], n: int,
                 config: str, seed: int = QUERY_SEED) -> List[str]:
    """make_queries, cached next to the corpus (keyed by its fingerprint)."""
    top, _ = _dirs()
    path = os.path.join(top, f"queries-{corpus.fingerprint}-{config}-{seed}-{n}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    queries = make_queries(corpus.docs, analyze, n, seed)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(queries, f, indent=0)
    os.replace(tmp, path)
    return queries


# ---------------------------------------------------------------------------
# tables


def load_table(conn, table: str, docs: Sequence[Document], tsv_config: Optional[str] = None,
               batch: int = 5000) -> float:
    """(Re)create table (id int primary key, package text, body text
    [, tsv tsvector generated as to_tsvector(tsv_config, body), stored])
    and COPY docs into it; returns seconds.  table is "schema.name" (the schema is created)."""
    schema, _, name = table.rpartition(".")
    ident = sql.Identifier(*(p for p in (schema, name) if p))
    t0 = time.perf_counter()
    with conn.transaction():
        if schema:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
        tsv = sql.SQL("")
        if tsv_config:
            tsv = sql.SQL(", tsv tsvector GENERATED ALWAYS AS (to_tsvector({}::regconfig, body)) "
                          "STORED").format(sql.Literal(tsv_config))
        conn.execute(sql.SQL("CREATE TABLE {} (id int NOT NULL, package text NOT NULL, "
                             "body text NOT NULL{})").format(ident, tsv))
        with progress(len(docs), f"COPY {table}") as bar, conn.cursor().copy(
                sql.SQL("COPY {} (id, package, body) FROM STDIN").format(ident)) as copy:
            for lo in range(0, len(docs), batch):
                for d in docs[lo:lo + batch]:
                    copy.write_row((d.id, d.package, d.text))
                bar.update(min(batch, len(docs) - lo))
        conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(ident))
    verb = "VACUUM (ANALYZE)" if conn.autocommit else "ANALYZE"
    conn.execute(sql.SQL(verb + " {}").format(ident))
    return time.perf_counter() - t0
