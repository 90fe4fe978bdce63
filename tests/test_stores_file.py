"""The file store: atomic writes, the locked conditional write, what listings show."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from dvbuild.stores.file import FileStore


def test_write_read_stat_and_keys(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "s")
    assert store.read("a/b.txt") is None and store.stat("a/b.txt") is None
    store.write("a/b.txt", b"hello", sha256="ignored", content_type="text/plain")
    source = tmp_path / "src.bin"
    source.write_bytes(b"x" * 3_000_000)
    store.write("a/c/big.bin", source, sha256="ignored", content_type="application/octet-stream")
    assert store.read("a/b.txt") == b"hello"
    stat = store.stat("a/c/big.bin")
    assert stat is not None and stat.size == 3_000_000
    assert stat.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert store.sha256("a/b.txt") == hashlib.sha256(b"hello").hexdigest()
    # temp files of a crashed writer and the lock folder never show up as keys
    (tmp_path / "s/a/.b.txt.x1.tmp").write_bytes(b"half")
    assert store.write_if("a/latest.json", b"{}", token=None, content_type="application/json")
    assert list(store.keys("a/")) == ["a/b.txt", "a/c/big.bin", "a/latest.json"]
    assert list(store.keys("nothing/")) == []
    assert store.url_for("a/b.txt") == (tmp_path / "s/a/b.txt").as_uri()


@pytest.mark.parametrize("key", ["../x", "/abs", "a/../../x", ""])
def test_keys_cannot_leave_the_store(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        FileStore(tmp_path).read(key)


def test_conditional_write(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    assert store.write_if("k", b"1", token=None, content_type="text/plain")
    assert not store.write_if("k", b"2", token=None, content_type="text/plain")
    current = store.read_versioned("k")
    assert current is not None
    assert store.write_if("k", b"3", token=current.token, content_type="text/plain")
    assert not store.write_if("k", b"4", token=current.token, content_type="text/plain")
    assert store.read("k") == b"3"


def test_racing_conditional_writes_lose_no_update(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.write_if("n", b"0", token=None, content_type="text/plain")

    def add_one() -> None:
        for _ in range(20):
            while True:
                current = store.read_versioned("n")
                assert current is not None
                if store.write_if("n", str(int(current.data) + 1).encode(),
                                  token=current.token, content_type="text/plain"):
                    break

    threads = [threading.Thread(target=add_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.read("n") == b"80"
