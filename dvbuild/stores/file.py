"""The embedded store: a folder on disk (`file:///dir`), used by `dvbuild local`.

Every write goes to a temporary file in the same folder and is renamed into
place, so readers never see half a file. The conditional write holds an
exclusive lock (a file under `<dir>/.dvbuild-locks/`) while it compares and renames.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from dvbuild.errors import ServiceError, UsageError
from dvbuild.stores import CACHE_IMMUTABLE, CACHE_NONE, Stat, Versioned

LOCKS = ".dvbuild-locks"


class FileStore:
    concurrency = 4

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri()

    @classmethod
    def from_url(cls, url: str) -> FileStore:
        parts = urlsplit(url)
        if parts.scheme != "file":
            return cls(Path(url).resolve())
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost"):
            # `file://out/store` (a relative path glued to the scheme) means ./out/store.
            path = unquote(parts.netloc) + path
        if not path:
            raise UsageError(f"store URL {url!r} names no folder", hint="file:///absolute/dir")
        return cls(Path(path).resolve())

    def _path(self, key: str) -> Path:
        rel = PurePosixPath(key)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise ValueError(f"bad store key {key!r}")
        return self.root.joinpath(*rel.parts)

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise ServiceError(f"{self.url}: cannot read {key}: {e.strerror}") from None

    def read_versioned(self, key: str) -> Versioned | None:
        data = self.read(key)
        return None if data is None else Versioned(data, hashlib.sha256(data).hexdigest())

    def stat(self, key: str) -> Stat | None:
        path = self._path(key)
        try:
            size = path.stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None
        # Files only ever appear by rename, so an existing file is complete; hash it
        # rather than trusting a sidecar that could disagree with the file.
        with path.open("rb") as f:
            return Stat(size, hashlib.file_digest(f, "sha256").hexdigest())

    def sha256(self, key: str) -> str | None:
        stat = self.stat(key)
        return stat.sha256 if stat else None

    def write(self, key: str, source: Path | bytes, *, sha256: str, content_type: str,
              cache_control: str = CACHE_IMMUTABLE) -> None:
        self._atomic_write(self._path(key), source)

    def write_if(self, key: str, data: bytes, *, token: str | None, content_type: str,
                 cache_control: str = CACHE_NONE) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        locks = self.root / LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        # Locks live apart from the data so a version folder holds only its files.
        with open(locks / (key.replace("/", "%") + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self.read_versioned(key)
            if (current.token if current else None) != token:
                return False
            self._atomic_write(path, data)
            return True

    def keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp") and LOCKS not in path.parts:
                yield path.relative_to(self.root).as_posix()

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def _atomic_write(self, path: Path, source: Path | bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    if isinstance(source, bytes):
                        out.write(source)
                    else:
                        with source.open("rb") as src:
                            shutil.copyfileobj(src, out, 1024 * 1024)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as e:
            raise ServiceError(f"{self.url}: cannot write {path}: {e.strerror}") from None
