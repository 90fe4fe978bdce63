"""Uploading a version's files in parallel, skipping those already stored with the same sha256."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from dvbuild.publish.manifest import FileEntry
from dvbuild.publish.result import PublishResult
from dvbuild.stores import CACHE_IMMUTABLE, Store


def upload(store: Store, prefix: str, files: Sequence[FileEntry], result: PublishResult) -> None:
    progress = Progress(len(files), sum(f.bytes for f in files))
    # One listing instead of a HEAD per file: a fresh version has nothing to check.
    present = set(store.keys(prefix))

    def one(entry: FileEntry) -> bool:
        key = prefix + entry.path
        if key in present and already_there(store, key, entry):
            progress.step(entry.bytes)
            return False
        store.write(key, entry.source, sha256=entry.sha256, content_type=entry.content_type,
                    cache_control=CACHE_IMMUTABLE)
        progress.step(entry.bytes)
        return True

    pool = ThreadPoolExecutor(max_workers=max(1, store.concurrency))
    try:
        done = list(pool.map(one, files))
    finally:
        # On the first failure drop the queued files: the rerun uploads them.
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()
    result.uploaded = sum(done)
    result.skipped = len(files) - result.uploaded
    result.bytes_uploaded = sum(f.bytes for f, up in zip(files, done, strict=True) if up)


def already_there(store: Store, key: str, entry: FileEntry) -> bool:
    stat = store.stat(key)
    if stat is None or stat.size != entry.bytes:
        return False
    # Some S3-compatible servers forget metadata: then read the bytes back and hash
    # them. Never an ETag: multipart ETags are not content hashes.
    return (stat.sha256 or store.sha256(key)) == entry.sha256


class Progress:
    """A one-line counter on a terminal; silent in CI logs, where the summary line goes."""

    def __init__(self, files: int, total: int) -> None:
        self.files, self.total, self.done, self.bytes = files, total, 0, 0
        self.live = sys.stderr.isatty()
        self.lock = threading.Lock()

    def step(self, size: int) -> None:
        with self.lock:
            self.done += 1
            self.bytes += size
            if self.live:
                sys.stderr.write(f"\r  {self.done}/{self.files} files, "
                                 f"{self.bytes / 1e6:.1f}/{self.total / 1e6:.1f} MB")
                sys.stderr.flush()

    def close(self) -> None:
        if self.live and self.files:
            sys.stderr.write("\n")
