"""Where published files live: a small key/value interface, two real implementations.

Keys are '/'-separated and relative to the store's root (`s3://bucket/prefix`
or `file:///dir`); the store adds its prefix. Writes of whole objects are
atomic in both stores: a reader sees the old object, the new one, or none.
`write_if` is the one conditional write (latest.json): it succeeds only if the
object still carries `token` (or, with token None, does not exist yet).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from dvbuild.errors import UsageError

CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_NONE = "no-cache"


@dataclass(frozen=True)
class Stat:
    size: int
    sha256: str | None  # as recorded when the object was written; None if unknown


@dataclass(frozen=True)
class Versioned:
    """An object's bytes and the token a conditional write must present to replace it."""

    data: bytes
    token: str


class Store(Protocol):
    url: str
    concurrency: int  # how many writes publish may run at once

    def read(self, key: str) -> bytes | None: ...

    def read_versioned(self, key: str) -> Versioned | None: ...

    def stat(self, key: str) -> Stat | None: ...

    def sha256(self, key: str) -> str | None:
        """Hash the stored bytes (when stat() has no recorded sha256)."""

    def write(self, key: str, source: Path | bytes, *, sha256: str, content_type: str,
              cache_control: str = CACHE_IMMUTABLE) -> None: ...

    def write_if(self, key: str, data: bytes, *, token: str | None, content_type: str,
                 cache_control: str = CACHE_NONE) -> bool: ...

    def keys(self, prefix: str) -> Iterator[str]: ...

    def url_for(self, key: str) -> str: ...


def open_store(url: str, environ: Mapping[str, str]) -> Store:
    """A Store for `s3://bucket/prefix` or `file:///dir` (a plain path is a file store too)."""
    scheme = urlsplit(url).scheme
    if scheme == "s3":
        from dvbuild.stores.s3 import S3Store

        return S3Store.from_url(url, environ)
    if scheme in ("file", ""):
        from dvbuild.stores.file import FileStore

        return FileStore.from_url(url)
    raise UsageError(f"store URL {url!r}: unknown scheme {scheme!r}",
                     hint="use s3://bucket/prefix or file:///absolute/dir")
