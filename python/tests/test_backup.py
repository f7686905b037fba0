"""Backups: the seed README's example as written, once embedded and once
against a DSN; the client-side reader against files the server wrote
(1,000 single-byte changes and truncations all found, and blamed on the
right frame); options; refusal and replacement; IVFPQ collections."""

import os
import random
import struct

import psycopg
import pytest

from gigavector import (BackupCompression, BackupOptions, Database, DistanceType, GigaVectorError,
                        IndexType, RestoreOptions, Vector, backup_check, backup_create,
                        backup_read_header, backup_restore, backup_verify)

V1_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "test", "data", "backup-v1.gvb")


@pytest.fixture()
def workdir(tmp_path, monkeypatch, mode, dsn):
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    if mode == "dsn":
        with psycopg.connect(dsn, autocommit=True) as c:
            for name in ("vectors.db", "restored.db", "other.db"):
                c.execute(f'DROP TABLE IF EXISTS "{name}"')


def _fill(db, n, dim, seed=1):
    rng = random.Random(seed)
    vecs = [[rng.uniform(-1, 1) for _ in range(dim)] for _ in range(n)]
    for i, v in enumerate(vecs):
        db.add_vector(v, metadata={"id": str(i), "category": "AB"[i % 2]})
    return vecs


def test_seed_readme_backup(workdir, mode, capsys):
    db = Database.open("vectors.db", dimension=16, index=IndexType.HNSW)
    vecs = _fill(db, 300, 16)
    try:
        # Create backup
        options = BackupOptions(
            compression=BackupCompression.ZSTD,
            include_metadata=True
        )
        result = backup_create(db, "backup.gvb", options)
        print(f"Backup created: {result.vectors_backed_up} vectors")

        # Verify backup
        if backup_verify("backup.gvb"):
            print("Backup is valid")

        # Restore to new database
        restore_opts = RestoreOptions(verify_checksums=True)
        restored_db = backup_restore("backup.gvb", "restored.db", restore_opts)

        out = capsys.readouterr().out
        assert out == "Backup created: 300 vectors\nBackup is valid\n"
        assert result.bytes_written == os.path.getsize(workdir / "backup.gvb")
        assert result.compression_ratio > 0
        with restored_db:
            assert restored_db.index == IndexType.HNSW and restored_db.dimension == 16
            assert restored_db.count() == 300
            got = {v.id: (v.data, v.metadata) for v in restored_db}
            want = {v.id: (v.data, v.metadata) for v in db}
            assert got == want
            for q in vecs[:10]:
                assert [h.id for h in restored_db.search(q, k=5)] == [h.id for h in db.search(q, k=5)]
            # the restored collection keeps one vector index, built under its own name
            with restored_db.connection() as c:
                names = [r[0] for r in c.execute(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = %s::regclass AND a.amname LIKE 'gv%%'",
                    (restored_db.table.as_string(c),))]
            assert len(names) == 1
            # ids continue after the restored ones
            assert restored_db.add_vector([0.0] * 16) == 301
    finally:
        db.close()


def _frames(path):
    """[(start, end)] of each frame, the header's end and the trailer's start."""
    data = open(path, "rb").read()
    body = struct.unpack_from("<I", data, 12)[0]
    at = 20 + body + 4
    header_end = at
    frames = []
    while data[at:at + 4] == b"GVBF":
        stored = struct.unpack_from("<I", data, at + 24)[0]
        frames.append((at, at + 40 + stored + 4))
        at += 40 + stored + 4
    return data, header_end, frames, at


def _blames(problem, pos, header_end, frames, trailer_at):
    if pos < header_end:
        return "header" in problem or "signature" in problem or "format version" in problem
    if pos >= trailer_at:
        return "trailer" in problem or f"block after frame {len(frames)} " in problem
    for k, (start, end) in enumerate(frames):
        if start <= pos < end:
            return f"frame {k + 1} " in problem or (k > 0 and f"block after frame {k} " in problem)
    return False


@pytest.fixture()
def server_file(make_db, tmp_path):
    """A backup the server wrote (several frames, all encodings likely), on the client."""
    db = make_db("dsn", 64, IndexType.KDTREE)
    rng = random.Random(7)
    db.add_vectors([[float(rng.randrange(256)) for _ in range(64)] for _ in range(5000)])
    path = tmp_path / "file.gvb"
    backup_create(db, path, BackupOptions(compression_level=1))
    return path


def test_client_reader_finds_every_flipped_byte(server_file, tmp_path):
    data, header_end, frames, trailer_at = _frames(server_file)
    assert len(frames) >= 2
    check = backup_check(server_file)
    assert check.valid and check.rows == 5000 and check.frames == len(frames)
    rng = random.Random(42)
    bad = tmp_path / "bad.gvb"
    missed, misblamed = [], []
    for _ in range(1000):
        pos = rng.randrange(len(data))
        damaged = bytearray(data)
        damaged[pos] ^= rng.randrange(1, 256)
        bad.write_bytes(damaged)
        c = backup_check(bad)
        if c.valid:
            missed.append(pos)
        elif not _blames(c.problem, pos, header_end, frames, trailer_at):
            misblamed.append((pos, c.problem))
    assert missed == []
    assert misblamed == []
    assert not backup_verify(bad)


def test_client_reader_finds_every_truncation(server_file, tmp_path):
    data, header_end, frames, trailer_at = _frames(server_file)
    cut = tmp_path / "cut.gvb"
    lengths = set(random.Random(3).sample(range(len(data)), 300))
    lengths |= {0, 1, header_end, trailer_at, len(data) - 1, len(data) - 4}
    lengths |= {s for s, _ in frames} | {e - 1 for _, e in frames}
    for n in sorted(lengths):
        cut.write_bytes(data[:n])
        c = backup_check(cut)
        assert not c.valid and ("truncated" in c.problem or "empty" in c.problem), (n, c.problem)
    cut.write_bytes(data + b"\0")
    assert "after the trailer" in backup_check(cut).problem


def test_damaged_file_is_not_restored(server_file, tmp_path, dsn):
    data, _, frames, _ = _frames(server_file)
    damaged = bytearray(data)
    damaged[frames[1][0] + 100] ^= 0x10
    bad = tmp_path / "bad.gvb"
    bad.write_bytes(damaged)
    with pytest.raises(GigaVectorError, match="frame 2 .*checksum mismatch"):
        backup_restore(bad, "never_restored", dsn=dsn)
    # without the client's check, the server finds it, and nothing is left
    with pytest.raises(GigaVectorError, match="frame 2 .*checksum mismatch"):
        backup_restore(bad, "never_restored", RestoreOptions(verify_checksums=False), dsn=dsn)
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT to_regclass('never_restored')").fetchone() == (None,)


def test_committed_format_1_file():
    h = backup_read_header(V1_FILE)
    assert (h.format_version, h.vector_count, h.dimension, h.frames) == (1, 200, 4, 1)
    assert [c["name"] for c in h.columns] == ["id", "emb", "meta"]
    assert h.table == "public.v1"
    assert backup_verify(V1_FILE)


def test_header_and_options(make_db, tmp_path, dsn):
    db = make_db("dsn", 8, IndexType.HNSW, index_distance=DistanceType.COSINE)
    db.add_vectors([[i, 1, 2, 3, 4, 5, 6, 7] for i in range(100)])
    db.add_vector([1] * 8, metadata={"k": "v"})
    plain = backup_create(db, tmp_path / "plain.gvb", BackupOptions(compression=BackupCompression.NONE))
    packed = backup_create(db, tmp_path / "packed.gvb", BackupOptions(compression_level=19))
    assert plain.vectors_backed_up == packed.vectors_backed_up == 101
    assert plain.compression_ratio < 1 < packed.compression_ratio
    h = backup_read_header(tmp_path / "packed.gvb")
    assert h.compression == BackupCompression.ZSTD and h.compression_level == 19
    assert h.dimension == 8 and h.vector_count == 101 and h.frames == 1
    assert h.file_bytes == packed.bytes_written
    assert abs(packed.compression_ratio - h.raw_bytes / h.file_bytes) < 1e-9
    bare = backup_create(db, tmp_path / "bare.gvb", BackupOptions(include_metadata=False))
    assert [c["name"] for c in backup_read_header(tmp_path / "bare.gvb").columns] == ["id", "embedding"]
    with backup_restore(tmp_path / "bare.gvb", "other.db", dsn=dsn) as other:
        assert other.index == IndexType.HNSW and other.index_distance == DistanceType.COSINE
        assert sorted(v.metadata == {} for v in other) == [True] * 101
    # an existing collection is refused, unless overwritten
    with pytest.raises(GigaVectorError, match='relation .*other.db" already exists'):
        backup_restore(tmp_path / "packed.gvb", "other.db", dsn=dsn)
    with backup_restore(tmp_path / "packed.gvb", "other.db", RestoreOptions(overwrite=True), dsn=dsn) as other:
        assert other.search([1] * 8, k=1)[0].vector.metadata == {"k": "v"}
        other.close()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute('DROP TABLE "other.db"')
    with pytest.raises(ValueError):
        backup_create(db, tmp_path / "x.gvb", BackupOptions(compression_level=0))
    assert not (tmp_path / "x.gvb").exists() and not (tmp_path / "x.gvb.tmp").exists()


def test_ivfpq_collection(make_db, tmp_path, dsn, capsys):
    db = make_db("dsn", 16, IndexType.IVFPQ)
    rng = random.Random(5)
    data = [[rng.uniform(-1, 1) for _ in range(16)] for _ in range(12000)]
    db.train_ivfpq(data[:1000])
    db.add_vectors(data)
    result = backup_create(db, tmp_path / "ivf.gvb", progress=True)
    assert "backup" in capsys.readouterr().err  # the progress bar
    assert result.vectors_backed_up == 12000
    with backup_restore(tmp_path / "ivf.gvb", "ivf_restored", dsn=dsn) as r:
        assert r.index == IndexType.IVFPQ
        with r.connection() as c:
            assert c.execute("SELECT trained FROM gigavector.ivfpq_info(%s::regclass)",
                             (r._index_name,)).fetchone() == (True,)
        q = data[17]
        assert r.search(q, k=1)[0].vector.data == Vector(q).data
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("DROP TABLE ivf_restored")
