"""`dvbuild.read_dp`: another package's published data, read inside a notebook.

    import dvbuild
    df = dvbuild.read_dp("arbeidsledighet", "ledighet", version="^1.2")
    descriptor = dvbuild.read_dp("arbeidsledighet")       # its published datapackage.json

The store is the `store` argument, else $DVBUILD_READ_FIRST when it holds the
package (`dvbuild test` puts there the outputs of upstream packages tested in the
same call), else $DVBUILD_STORE, else dvbuild.yaml's `store` (found as `read_sql`
finds it: $DVBUILD_CONFIG, else the nearest one at or above the working
directory). Only complete versions are read (ranges.py says
which one); every file is checked against the sha256 its `_manifest.json`
records and kept in a cache by that sha256 ($DVBUILD_CACHE_DIR, else the user
cache dir's `dvbuild/read_dp`). Each read that succeeds is recorded for lineage
as one line of $DVBUILD_OUTPUT_DIR/.dvbuild-inputs.jsonl; `read_inputs` gives the
records back to whatever writes the run's manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from dvbuild.api import ranges
from dvbuild.api.datapackage import OUTPUT_ENV
from dvbuild.api.sources import _config_file
from dvbuild.api.tables import FORMATS, read_table, table_format
from dvbuild.errors import ConfigError, DataPackageError, Problem, ServiceError, UsageError
from dvbuild.package import DESCRIPTOR, NAME_RE
from dvbuild.publish.contents import local_paths
from dvbuild.publish.history import manifests, read_manifest, versions
from dvbuild.publish.manifest import canonical_manifest, version_prefix
from dvbuild.publish.pointer import UnreadableLatest, latest
from dvbuild.stores import Store, open_store
from dvbuild.stores.file import FileStore

STORE_ENV = "DVBUILD_STORE"
# Set by `dvbuild test` for packages that read others tested in the same call: a file
# store holding those upstream test outputs, read before DVBUILD_STORE for what it holds.
FIRST_ENV = "DVBUILD_READ_FIRST"
CACHE_ENV = "DVBUILD_CACHE_DIR"
INPUTS = ".dvbuild-inputs.jsonl"
INPUT_KEYS = ("name", "version", "resource", "sha256")


@dataclass(frozen=True)
class _Where:
    """What one call reads: the store URL, the package, the version (asked, then found)."""

    url: str
    name: str
    version: str

    def error(self, message: str, hint: str = "", version: str | None = None) -> DataPackageError:
        return DataPackageError(message, store=self.url, package=self.name,
                                version=version or self.version, hint=hint)


def read_dp(name: str, resource: str | None = None, *, version: str = "latest",
            store: str | None = None, environ: Mapping[str, str] | None = None) -> Any:
    """A resource of a published package as a pandas DataFrame; with `resource` None,
    the package's published datapackage.json as a dict."""
    env = os.environ if environ is None else environ
    url = (_first(name, env) if store is None else None) or store_url(store, env)
    where = _Where(url, name, str(version))
    if not NAME_RE.match(name):
        raise where.error("not a package name", hint="a lowercase slug: a-z, 0-9, '-', '_', '.'")
    try:
        value, found, sha256 = _read(where, resource, env)
    except ServiceError as e:
        raise where.error(f"cannot reach the store: {e.message}",
                          hint=e.hint or "check the store URL and that the store is up") from None
    record(env, {"name": name, "version": found, "resource": resource, "sha256": sha256})
    return value


def _read(where: _Where, resource: str | None, env: Mapping[str, str]) -> tuple[Any, str, str]:
    """(the value, the version read, the sha256 recorded for lineage)."""
    store = _open(where, env)
    manifest = resolve(store, where)
    found = _Version(store, replace(where, version=str(manifest["version"])), manifest,
                     cache_dir(env))
    descriptor = found.descriptor()
    if resource is None:
        return descriptor, found.where.version, found.sha256([DESCRIPTOR])
    frame, sha256 = found.table(descriptor, resource)
    return frame, found.where.version, sha256


# -- which store -----------------------------------------------------------------------


def store_url(store: str | None, environ: Mapping[str, str], cwd: Path | None = None) -> str:
    """The `store` argument, else $DVBUILD_STORE, else dvbuild.yaml's `store`."""
    if store:
        return store
    if environ.get(STORE_ENV):
        return environ[STORE_ENV]
    config = _config_file(environ, cwd or Path.cwd())
    if config is not None:
        from dvbuild.settings import load_config

        configured = load_config(config.parent).store
        if configured:
            return _anchored(configured, config.parent)
    raise ConfigError(Problem("dvbuild.yaml", "read_dp: no store to read from", "/store",
                              expected=f"read_dp(..., store=URL), ${STORE_ENV}, or store: in "
                                       "dvbuild.yaml"))


def _first(name: str, environ: Mapping[str, str]) -> str | None:
    """$DVBUILD_READ_FIRST when it holds a version of `name`, else None (the usual store)."""
    url = environ.get(FIRST_ENV)
    if not url or not NAME_RE.match(name):
        return None
    from dvbuild.publish.manifest import latest_key

    store = FileStore.from_url(url)
    return url if store.root.is_dir() and store.stat(latest_key(name)) is not None else None


def _anchored(url: str, base: Path) -> str:
    """A relative file store in dvbuild.yaml is relative to that file, not to where the
    notebook happens to run (`dvbuild test` runs it in a copy)."""
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
        return str(base / (unquote(parts.netloc) + unquote(parts.path)))
    if parts.scheme == "" and not Path(url).is_absolute():
        return str(base / url)
    return url


def _open(where: _Where, env: Mapping[str, str]) -> Store:
    try:
        store = open_store(where.url, env)
    except (UsageError, ServiceError) as e:
        raise where.error(f"cannot open the store: {e.message}", hint=e.hint) from None
    if isinstance(store, FileStore) and not store.root.is_dir():
        raise where.error(f"cannot reach the store: no folder {store.root}",
                          hint="check the store URL (file:///absolute/dir)")
    return store


# -- which version ---------------------------------------------------------------------


def resolve(store: Store, where: _Where) -> Mapping[str, Any]:
    """The _manifest.json of the complete version `where.version` asks for."""
    if where.version == "latest":
        return _latest(store, where)
    exact = read_manifest(store, where.name, where.version) \
        if ranges.ID_RE.match(where.version) else None
    if exact is not None:
        return exact
    try:
        wanted = ranges.parse(where.version)
    except ValueError as e:
        raise where.error(str(e), hint=f"version= takes {ranges.FORMS}") from None
    complete = manifests(store, where.name)
    picked = ranges.pick(complete, wanted)
    if picked is None:
        raise _no_match(store, where, complete, wanted)
    return picked


def _latest(store: Store, where: _Where) -> Mapping[str, Any]:
    try:
        pointer = latest(store, where.name)
    except UnreadableLatest as e:
        raise where.error(e.message, hint=e.hint) from None
    if pointer is None:
        complete = versions(store, where.name)
        if not complete:
            raise _absent(store, where)
        raise where.error("no latest.json", hint="pass one of the complete versions as "
                          "version=: " + ", ".join(complete[:10]))
    named = str(pointer.get("version") or "")
    found = read_manifest(store, where.name, named) if ranges.ID_RE.match(named) else None
    if found is None:
        raise where.error("latest.json names an incomplete version (no _manifest.json)",
                          hint="its files may have been removed; roll back with "
                               "`dvbuild publish --rollback VERSION NAME`", version=named)
    return found


def _no_match(store: Store, where: _Where, complete: Sequence[Mapping[str, Any]],
              wanted: ranges.Wanted) -> DataPackageError:
    ids = {str(m["version"]) for m in complete}
    partial = [v for v in _folders(store, where.name) if v not in ids and
               (v == wanted.text or ranges.matches(wanted, ranges.semver({"version": v})))]
    if partial:
        return where.error(f"version {partial[0]} is incomplete (no _manifest.json)",
                           hint="its publish has not finished or was interrupted; publish it "
                                "again, or ask for a complete version")
    if not complete:
        return _absent(store, where)
    return where.error("no complete version matches", hint="complete versions: "
                       + ", ".join(str(m["version"]) for m in complete[:10]))


def _absent(store: Store, where: _Where) -> DataPackageError:
    if next(iter(store.keys(f"{where.name}/")), None) is None:
        return where.error("no such package in this store",
                           hint="check the name and the store URL; a package is there once "
                                "`dvbuild publish` has published it")
    return where.error("the package has no complete version (no _manifest.json)",
                       hint="its first publish has not finished or was interrupted")


def _folders(store: Store, name: str) -> list[str]:
    prefix = f"{name}/versions/"
    return list(dict.fromkeys(k[len(prefix):].split("/")[0] for k in store.keys(prefix)))


# -- the files of one version ----------------------------------------------------------


class _Version:
    """One complete version: its files fetched through the cache, checked by sha256."""

    def __init__(self, store: Store, where: _Where, manifest: Mapping[str, Any],
                 cache: Path) -> None:
        self.store, self.where, self.cache = store, where, cache
        listed = _list(manifest.get("files"))
        self.files = {str(f["path"]): f for f in listed if isinstance(f, dict) and "path" in f}

    def entry(self, path: str) -> Mapping[str, Any]:
        found = self.files.get(path)
        if found is None or not isinstance(found.get("sha256"), str):
            raise self.where.error(f"{path} is not in the version's _manifest.json")
        return found

    def fetch(self, path: str) -> Path:
        """A local copy of one file, verified against the manifest."""
        sha256 = str(self.entry(path)["sha256"])
        cached = self.cache / sha256[:2] / sha256
        if _file_sha256(cached) == sha256:
            return cached
        data = self.store.read(version_prefix(self.where.name, self.where.version) + path)
        if data is None:
            raise self.where.error(f"{path} is listed in _manifest.json but not in the store",
                                   hint="the version was damaged after it was published")
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise self.where.error(f"checksum mismatch for {path}: the store has sha256 "
                                   f"{actual[:12]}…, _manifest.json says {sha256[:12]}…",
                                   hint="the file changed after it was published; nothing "
                                        "was read from it")
        _write_atomic(cached, data)
        return cached

    def sha256(self, paths: Sequence[str]) -> str:
        """The sha256 recorded for lineage: the file's, or (several files) their manifest's."""
        entries = [self.entry(p) for p in paths]
        if len(entries) == 1:
            return str(entries[0]["sha256"])
        return hashlib.sha256(canonical_manifest(entries)).hexdigest()

    def descriptor(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.fetch(DESCRIPTOR).read_bytes())
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise self.where.error(f"its {DESCRIPTOR} is not a JSON object")
        return doc

    def table(self, descriptor: Mapping[str, Any], name: str) -> tuple[Any, str]:
        resource = _resource(descriptor, name, self.where)
        paths = _paths(resource, name, self.where)
        fmt = table_format(resource, paths)
        if fmt is None:
            raise self.where.error(f"resource {name!r}: read_dp reads {', '.join(FORMATS)}, "
                                   f"not {resource.get('format') or paths[0]}",
                                   hint="read_dp(name) gives the descriptor with its paths")
        files = [self.fetch(p) for p in paths]  # every file checked before any is parsed
        try:
            return read_table(files, resource, fmt), self.sha256(paths)
        except ValueError as e:
            raise self.where.error(f"resource {name!r}: {e}") from None


def _resource(descriptor: Mapping[str, Any], name: str, where: _Where) -> Mapping[str, Any]:
    listed = _list(descriptor.get("resources"))
    for res in listed:
        if isinstance(res, dict) and res.get("name") == name:
            return res
    known = ", ".join(str(r.get("name")) for r in listed if isinstance(r, dict)) or "none"
    raise where.error(f"no resource {name!r} (resources: {known})")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _paths(resource: Mapping[str, Any], name: str, where: _Where) -> list[str]:
    paths = [p for _, p in local_paths(resource)]
    if not paths or not all(isinstance(p, str) for p in paths):
        raise where.error(f"resource {name!r} has no file in the store",
                          hint="its path is a URL or it holds inline data; "
                               "read_dp(name) gives the descriptor")
    return [PurePosixPath(p).as_posix() for p in paths]


# -- the cache -------------------------------------------------------------------------


def cache_dir(environ: Mapping[str, str]) -> Path:
    """$DVBUILD_CACHE_DIR, else the user cache dir's dvbuild/read_dp; a temp folder when
    neither can be written (a job with a read-only home)."""
    if environ.get(CACHE_ENV):
        wanted = Path(environ[CACHE_ENV])
    else:
        from platformdirs import user_cache_dir

        wanted = Path(user_cache_dir("dvbuild")) / "read_dp"
    try:
        wanted.mkdir(parents=True, exist_ok=True)
        if os.access(wanted, os.W_OK):
            return wanted
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / "dvbuild-read_dp"


def _file_sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:12]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- lineage ---------------------------------------------------------------------------


def record(environ: Mapping[str, str], entry: Mapping[str, Any]) -> None:
    """Append one read to $DVBUILD_OUTPUT_DIR/.dvbuild-inputs.jsonl (when it is set)."""
    out = environ.get(OUTPUT_ENV)
    if not out:
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    with (Path(out) / INPUTS).open("a", encoding="utf-8") as f:
        f.write(json.dumps({k: entry.get(k) for k in INPUT_KEYS}, ensure_ascii=False) + "\n")


def read_inputs(folder: str | Path) -> list[dict[str, Any]]:
    """The reads recorded in an output folder: each distinct one once, first-read order.
    A line that is not a whole record (a kernel killed mid-write) is skipped."""
    path = Path(folder) / INPUTS
    if not path.is_file():
        return []
    found: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and all(k in item for k in INPUT_KEYS):
            entry = {k: item[k] for k in INPUT_KEYS}
            found.setdefault(json.dumps(entry, sort_keys=True), entry)
    return list(found.values())
