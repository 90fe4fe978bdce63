"""Publishing: a built package directory → an immutable, complete version in a store.

    <store>/<name>/versions/<version>/<files>          uploaded first (skipped if the
                                                       same sha256 is already there)
    <store>/<name>/versions/<version>/_manifest.json   written last: the version is complete
    <store>/<name>/latest.json                         moved forward only, conditionally

`<version>` is `<semver>-<d12>`, d12 being the head of the sha256 of the
canonical manifest, so the same files always land under the same key and a
rerun finishes what an interrupted run began. The catalog is written after the
store, so it never points at files that are not there.
"""

from __future__ import annotations

import csv
import hashlib
import json
import mimetypes
import re
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from dvbuild import console
from dvbuild.catalogs import Catalog, documents, open_catalog, published_ms
from dvbuild.errors import ConfigError, DvbuildError, Problem, ServiceError, UsageError
from dvbuild.package import DEFAULT_VERSION, DESCRIPTOR, NAME_RE, read_descriptor
from dvbuild.stores import CACHE_IMMUTABLE, CACHE_NONE, Store, open_store

MANIFEST = "_manifest.json"
LATEST = "latest.json"
JSON_TYPE = "application/json"


@dataclass
class PublishResult:
    name: str
    dir: str
    version: str | None = None
    status: str = "failed"  # published | unchanged | failed
    files: int = 0
    uploaded: int = 0
    skipped: int = 0
    bytes: int = 0
    bytes_uploaded: int = 0
    seconds: float = 0.0
    latest: bool = False  # latest.json points at this version now
    latest_moved: bool = False  # ... because this publish moved it
    manifest_url: str | None = None
    error: str | None = None
    catalog: bool = False  # catalog documents written
    run: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "run"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- what a version holds --------------------------------------------------------------

SEMVER_RE = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
DOCS = ("README.md", "METADATA.md", "LICENSE.md")
REPORT = "report.json"
TYPES = {
    ".csv": "text/csv", ".json": JSON_TYPE, ".geojson": "application/geo+json",
    ".ipynb": "application/x-ipynb+json", ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}


@dataclass(frozen=True)
class FileEntry:
    path: str  # posix, relative to the package directory and the version folder
    source: Path
    bytes: int
    sha256: str
    content_type: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "sha256": self.sha256}


def canonical_manifest(files: Sequence[Mapping[str, Any]]) -> bytes:
    """Sorted paths with their sha256 and size, as compact JSON: what a version id hashes."""
    rows = sorted(({"path": f["path"], "sha256": f["sha256"], "bytes": int(f["bytes"])}
                   for f in files), key=lambda f: f["path"])
    return json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()


def version_id(semver: str, files: Sequence[Mapping[str, Any]]) -> str:
    """`<semver>-<d12>`: the same files give the same version, always."""
    return f"{semver}-{hashlib.sha256(canonical_manifest(files)).hexdigest()[:12]}"


@dataclass(frozen=True)
class Bundle:
    """A checked package directory: what will be uploaded, and the manifest's facts."""

    name: str
    semver: str
    folder: Path
    descriptor: Mapping[str, Any]
    files: tuple[FileEntry, ...]
    report: Mapping[str, Any]  # report.json of the run that built the directory, or {}
    notebooks: tuple[dict[str, Any], ...]
    commit: str | None
    input_hash: str | None

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @cached_property
    def resources(self) -> list[dict[str, Any]]:
        # Lazy: counting CSV rows reads the data, and only a new manifest needs it.
        return _summaries(self.folder, self.descriptor, self.report, self.files)

    @cached_property
    def version(self) -> str:
        return version_id(self.semver, [f.as_dict() for f in self.files])

    def manifest(self, *, published: str) -> dict[str, Any]:
        d = self.descriptor
        job = d.get("job") if isinstance(d.get("job"), dict) else {}
        return {
            "name": self.name, "version": self.version, "semver": self.semver,
            "published": published, "commit": self.commit, "input_hash": self.input_hash,
            "title": d.get("title") or self.name, "description": d.get("description") or "",
            "keywords": list(d.get("keywords") or []), "team": (job or {}).get("team"),
            "schedule": d.get("schedule") or None, "timezone": d.get("timezone"),
            "bytes": self.bytes,
            "files": [f.as_dict() for f in sorted(self.files, key=lambda f: f.path)],
            "resources": list(self.resources), "notebooks": list(self.notebooks),
        }


def collect(folder: Path, *, commit: str | None = None, input_hash: str | None = None) -> Bundle:
    """Check a built package directory and hash what a version of it holds. Raises
    ConfigError (file, JSON pointer, what was expected) for anything unpublishable."""
    display = str(folder / DESCRIPTOR)
    if not (folder / DESCRIPTOR).is_file():
        what = "no datapackage.json here" if folder.is_dir() else "not a directory"
        raise ConfigError(Problem(str(folder), what, expected="a built package directory "
                                  "holding datapackage.json (what dvbuild test writes to OUT/<name>/)"))
    descriptor = read_descriptor(folder / DESCRIPTOR, display)
    name, semver = _name_and_semver(descriptor, display)
    report = _read_report(folder)
    root = folder.resolve()
    problems = _spec_problems(descriptor, display)
    resources = _resource_files(root, descriptor, display, problems)
    notebooks = _notebook_files(root, descriptor, display, problems)
    if problems:
        raise ConfigError(problems)
    paths = [DESCRIPTOR] + [p for _, p, _ in resources] + [d for d in DOCS if (root / d).is_file()]
    paths += [p for nb in notebooks for p in (nb["path"], nb["html"]) if p]
    types = {p: t for _, p, t in resources if t}
    files = _hash_files(root, list(dict.fromkeys(paths)), types)
    return Bundle(
        name=name, semver=semver, folder=root, descriptor=descriptor, files=tuple(files),
        report=report, notebooks=tuple(notebooks),
        commit=report.get("commit") or commit, input_hash=report.get("input_hash") or input_hash,
    )


def _name_and_semver(descriptor: Mapping[str, Any], display: str) -> tuple[str, str]:
    name = descriptor.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(Problem(display, f"name is {name!r}", pointer="/name",
                                  expected="a lowercase slug: a-z, 0-9, '-', '_', '.'"))
    semver = str(descriptor.get("version") or DEFAULT_VERSION)
    if not SEMVER_RE.match(semver):
        raise ConfigError(Problem(display, f"version is {semver!r}", pointer="/version",
                                  expected="a semantic version like 1.2.0"))
    return name, semver


def _spec_problems(descriptor: Mapping[str, Any], display: str) -> list[Problem]:
    """What the Data Package spec says is wrong (dvbuild validate's check of it)."""
    from dvbuild import spec

    return [Problem(display, message, pointer, expected=expected)
            for pointer, message, expected in spec.problems(descriptor)]


def _read_report(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / REPORT).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        console.log(f"warning: {folder / REPORT}: ignored ({e})")
        return {}
    return data if isinstance(data, dict) else {}


def _safe_path(root: Path, rel: Any, display: str, pointer: str,
               problems: list[Problem]) -> str | None:
    """The posix path of a file inside root, or None (with a Problem) if it is not one."""
    if not isinstance(rel, str) or not rel or rel.startswith(("/", "\\")) or "\\" in rel \
            or re.match(r"^[A-Za-z]:", rel) or ".." in rel.split("/"):
        problems.append(Problem(display, f"path {rel!r} is not inside the package folder",
                                pointer=pointer, expected="a relative path without '..'"))
        return None
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        problems.append(Problem(display, f"path {rel!r} links outside the package folder",
                                pointer=pointer, expected="a file inside the package folder"))
        return None
    if not target.is_file():
        problems.append(Problem(display, f"resource file {rel!r} is missing", pointer=pointer,
                                expected="the file the notebooks should have written"))
        return None
    return target.relative_to(root).as_posix()


def _local_paths(resource: Mapping[str, Any]) -> list[tuple[int | None, Any]]:
    """(index in a path list or None, path) for the resource's local files; URLs skipped."""
    path = resource.get("path")
    items = list(enumerate(path)) if isinstance(path, list) else [(None, path)] if path else []
    return [(i, p) for i, p in items
            if not (isinstance(p, str) and re.match(r"^[a-z][a-z0-9+.-]*://", p))]


def _resource_files(root: Path, descriptor: Mapping[str, Any], display: str,
                    problems: list[Problem]) -> list[tuple[int, str, str | None]]:
    found = []
    resources = descriptor.get("resources") or []
    if not isinstance(resources, list):
        problems.append(Problem(display, "resources is not a list", pointer="/resources",
                                expected="a list of resources"))
        return []
    for i, res in enumerate(resources):
        if not isinstance(res, dict):
            continue
        for j, rel in _local_paths(res):
            pointer = f"/resources/{i}/path" + (f"/{j}" if j is not None else "")
            path = _safe_path(root, rel, display, pointer, problems)
            if path:
                found.append((i, path, res.get("mediatype") or res.get("mediaType")))
    return found


def _notebook_files(root: Path, descriptor: Mapping[str, Any], display: str,
                    problems: list[Problem]) -> list[dict[str, Any]]:
    listed = descriptor.get("notebooks")
    if isinstance(listed, list) and listed:
        names = [(f"/notebooks/{i}", n) for i, n in enumerate(listed)]
    else:
        names = [("", p.name) for p in sorted(root.glob("*.ipynb")) if p.is_file()]
    notebooks = []
    for pointer, rel in names:
        plain = isinstance(rel, str) and not rel.startswith(("/", "\\")) and ".." not in rel.split("/")
        if plain and not (root / rel).exists():
            continue  # a listed notebook that this output directory does not carry
        path = _safe_path(root, rel, display, pointer or "/notebooks", problems)
        if path:
            html = str(Path(path).with_suffix(".html").as_posix())
            notebooks.append({"path": path, "html": html if (root / html).is_file() else None})
    return notebooks


def _hash_files(root: Path, paths: list[str], types: Mapping[str, str]) -> list[FileEntry]:
    def one(rel: str) -> FileEntry:
        source = root / rel
        with source.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        return FileEntry(rel, source, source.stat().st_size, digest,
                         types.get(rel) or content_type(rel))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, paths))


def content_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def _summaries(root: Path, descriptor: Mapping[str, Any], report: Mapping[str, Any],
               files: Sequence[FileEntry]) -> list[dict[str, Any]]:
    """Per resource: name, path, format, bytes, rows, columns — for catalog and PR diffs."""
    by_path = {f.path: f for f in files}
    reported = {r.get("name"): r for r in report.get("resources") or [] if isinstance(r, dict)}
    out = []
    for i, res in enumerate(descriptor.get("resources") or []):
        if not isinstance(res, dict):
            continue
        name = str(res.get("name") or f"resource-{i}")
        local = [by_path[p] for _, p in _local_paths(res) if p in by_path]
        rep = reported.get(name, {})
        out.append({
            "name": name, "path": res.get("path"), "format": res.get("format"),
            "mediatype": res.get("mediatype"), "bytes": sum(f.bytes for f in local),
            "sha256": local[0].sha256 if len(local) == 1 else None,
            "rows": _rows(res, rep, local),
            "columns": _columns(res, rep, local),
        })
    return out


def _rows(res: Mapping[str, Any], rep: Mapping[str, Any], local: Sequence[FileEntry]) -> int | None:
    for value in (rep.get("rows"), res.get("rows"), (res.get("stats") or {}).get("rows")):
        if isinstance(value, int):
            return value
    if len(local) == 1 and local[0].path.lower().endswith(".csv"):
        with local[0].source.open(newline="", encoding="utf-8", errors="replace") as f:
            return max(0, sum(1 for _ in csv.reader(f)) - 1)
    return None


def _columns(res: Mapping[str, Any], rep: Mapping[str, Any],
             local: Sequence[FileEntry]) -> list[dict[str, Any]]:
    schema = res.get("schema")
    if isinstance(schema, dict) and isinstance(schema.get("fields"), list):
        return [{"name": f.get("name"), "type": f.get("type", "any")}
                for f in schema["fields"] if isinstance(f, dict)]
    if isinstance(rep.get("columns"), list):
        return [{"name": c.get("name"), "type": c.get("type")}
                for c in rep["columns"] if isinstance(c, dict)]
    if len(local) == 1 and local[0].path.lower().endswith(".csv"):
        with local[0].source.open(newline="", encoding="utf-8", errors="replace") as f:
            header = next(csv.reader(f), [])
        return [{"name": h, "type": None} for h in header]
    return []


# -- reading a store -------------------------------------------------------------------


def _json(store: Store, key: str) -> dict[str, Any] | None:
    data = store.read(key)
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        raise ServiceError(f"{store.url_for(key)}: not JSON") from None
    return doc if isinstance(doc, dict) else None


def latest(store: Store, name: str) -> dict[str, Any] | None:
    """The package's latest.json ({"version", "manifest_sha256", "published"}), or None."""
    return _json(store, f"{name}/{LATEST}")


def read_manifest(store: Store, name: str, version: str) -> dict[str, Any] | None:
    """A complete version's _manifest.json, or None if the version is not complete."""
    return _json(store, f"{name}/versions/{version}/{MANIFEST}")


def versions(store: Store, name: str) -> list[str]:
    """Complete versions of a package (those with a _manifest.json), newest first."""
    return [m["version"] for m in manifests(store, name)]


def manifests(store: Store, name: str) -> list[dict[str, Any]]:
    """The manifests of every complete version, newest first."""
    found = []
    prefix = f"{name}/versions/"
    for key in store.keys(prefix):
        parts = key[len(prefix):].split("/")
        if len(parts) == 2 and parts[1] == MANIFEST:
            manifest = read_manifest(store, name, parts[0])
            if manifest is not None:
                found.append(manifest)
    return sorted(found, key=lambda m: (str(m.get("published", "")), m["version"]), reverse=True)


# -- publishing ------------------------------------------------------------------------


def publish_dirs(
    dirs: Sequence[Path], store_url: str, catalog_url: str | None, *,
    environ: Mapping[str, str], commit: str | None = None, input_hash: str | None = None,
) -> list[PublishResult]:
    """Publish each directory as one version. Bad input (any dir) raises before anything
    is written; a store or catalog failure fails that package only."""
    bundles = _collect_all(dirs, commit=commit, input_hash=input_hash)
    store = open_store(store_url, environ)
    catalog = open_catalog(catalog_url, environ) if catalog_url else None
    results = []
    for bundle in bundles:
        result = publish_bundle(store, catalog, bundle, run_id=environ.get("GITHUB_RUN_ID"))
        results.append(result)
    return results


def _collect_all(dirs: Sequence[Path], *, commit: str | None,
                 input_hash: str | None) -> list[Bundle]:
    if not dirs:
        raise UsageError("no directory to publish", hint="dvbuild publish OUT/<name> --store URL")
    bundles, problems = [], []
    for d in dirs:
        try:
            bundles.append(collect(Path(d), commit=commit, input_hash=input_hash))
        except ConfigError as e:
            problems.extend(e.problems)
    if problems:
        raise ConfigError(problems, hint="nothing was published")
    names = [b.name for b in bundles]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError([Problem(str(b.folder / "datapackage.json"),
                                   f"package {b.name!r} given twice", pointer="/name")
                           for b in bundles if b.name in dupes])
    return bundles


def publish_bundle(store: Store, catalog: Catalog | None, bundle: Bundle, *,
                   run_id: str | None = None) -> PublishResult:
    """Upload → manifest → latest.json → catalog. Errors are caught into the result."""
    result = PublishResult(name=bundle.name, dir=str(bundle.folder), version=bundle.version,
                           files=len(bundle.files), bytes=bundle.bytes)
    started, clock = now_iso(), time.monotonic()
    try:
        manifest = _publish_store(store, bundle, started, result)
    except (DvbuildError, OSError) as e:
        _fail(result, e)
        if catalog is not None:  # status shows failed publishes too, when it can
            result.seconds = round(time.monotonic() - clock, 3)
            _record_failure(catalog, bundle, result, started, run_id)
    else:
        if catalog is not None:
            try:
                _publish_catalog(catalog, store, manifest, result, started, run_id)
                result.catalog = True
            except (DvbuildError, OSError) as e:
                _fail(result, e)
    result.seconds = round(time.monotonic() - clock, 3)
    _summary(result)
    return result


def _fail(result: PublishResult, error: Exception) -> None:
    # OSError: a local file vanished or a socket broke below the adapters.
    message = error.message if isinstance(error, DvbuildError) else f"{type(error).__name__}: {error}"
    result.status, result.error = "failed", message


def _publish_store(store: Store, bundle: Bundle, started: str,
                   result: PublishResult) -> dict[str, Any]:
    prefix = f"{bundle.name}/versions/{bundle.version}/"
    existing = store.read(prefix + MANIFEST)
    if existing is None:
        _upload(store, prefix, bundle.files, result)
        existing = _write_manifest(store, prefix + MANIFEST, bundle.manifest(published=started))
        result.status = "published"
    else:
        result.skipped = len(bundle.files)
    manifest = json.loads(existing)
    result.manifest_url = store.url_for(prefix + MANIFEST)
    result.latest_moved = move_latest(store, bundle.name, bundle.version,
                                      hashlib.sha256(existing).hexdigest(), started)
    current = latest(store, bundle.name)
    result.latest = bool(current and current.get("version") == bundle.version)
    if result.latest_moved or result.status == "published":
        result.status = "published"
    else:
        result.status = "unchanged"
    return dict(manifest)


def _write_manifest(store: Store, key: str, manifest: Mapping[str, Any]) -> bytes:
    data = (json.dumps(manifest, indent=2) + "\n").encode()
    if store.write_if(key, data, token=None, content_type=JSON_TYPE, cache_control=CACHE_IMMUTABLE):
        return data
    # Another job completed the same version first: theirs is the manifest.
    theirs = store.read(key)
    return theirs if theirs is not None else data


def _upload(store: Store, prefix: str, files: Sequence[FileEntry], result: PublishResult) -> None:
    progress = _Progress(len(files), sum(f.bytes for f in files))
    # One listing instead of a HEAD per file: a fresh version has nothing to check.
    present = set(store.keys(prefix))

    def one(entry: FileEntry) -> bool:
        key = prefix + entry.path
        if key in present and _already_there(store, key, entry):
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


def _already_there(store: Store, key: str, entry: FileEntry) -> bool:
    stat = store.stat(key)
    if stat is None or stat.size != entry.bytes:
        return False
    # Some S3-compatible servers forget metadata: then read the bytes back and hash
    # them. Never an ETag: multipart ETags are not content hashes.
    return (stat.sha256 or store.sha256(key)) == entry.sha256


def move_latest(store: Store, name: str, version: str, manifest_sha256: str, published: str,
                *, force: bool = False) -> bool:
    """Point latest.json at `version` unless it already does or a newer publish owns it
    (`force`: rollback). A conditional write closes the race between two jobs."""
    key = f"{name}/{LATEST}"
    body = {"version": version, "manifest_sha256": manifest_sha256, "published": published}
    data = (json.dumps(body, indent=2) + "\n").encode()
    for _ in range(20):
        current = store.read_versioned(key)
        if current is not None and not force and not _is_newer(body, json.loads(current.data)):
            return False
        if store.write_if(key, data, token=current.token if current else None,
                          content_type=JSON_TYPE, cache_control=CACHE_NONE):
            return True
        time.sleep(0.05)
    raise ServiceError(f"{store.url_for(key)}: kept changing while dvbuild tried to move it",
                       hint="another publish of this package is running; run again")


def _is_newer(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    if theirs.get("version") == ours["version"]:
        return False
    try:
        mine, other = published_ms(ours["published"]), published_ms(str(theirs.get("published")))
    except ValueError:
        return True  # an unreadable latest.json is replaced
    return (mine, ours["version"]) > (other, str(theirs.get("version")))




def rollback(store: Store, name: str, version: str, *,
             catalog: Catalog | None = None) -> dict[str, Any]:
    """Point latest.json at an existing complete version; returns the new latest.json."""
    data = store.read(f"{name}/versions/{version}/{MANIFEST}")
    if data is None:
        known = versions(store, name)
        raise UsageError(f"{name}: no complete version {version!r} in {store.url}",
                         hint="complete versions: " + (", ".join(known) if known else "none"))
    published = now_iso()
    move_latest(store, name, version, hashlib.sha256(data).hexdigest(), published, force=True)
    if catalog is not None:
        manifest = json.loads(data)
        package, version_doc = documents(manifest, store, published=published)
        catalog.publish(package, version_doc, {
            "package": name, "version": version, "status": "rollback", "started": published,
            "finished": published, "duration": 0.0, "commit": manifest.get("commit"),
            "input_hash": manifest.get("input_hash"), "bytes": 0, "rows": {},
        })
    return latest(store, name) or {}


# -- catalog and reporting -------------------------------------------------------------


def _publish_catalog(catalog: Catalog, store: Store, manifest: Mapping[str, Any],
                     result: PublishResult, started: str, run_id: str | None) -> None:
    current = latest(store, result.name) or {}
    # The package document carries latest.json's time, so a rerun writes the same
    # document with the same external version (a no-op), and a stale job an older one.
    published = current.get("published") if result.latest else started
    package, version_doc = documents(manifest, store, published=str(published or started))
    run = run_document(manifest, result, started=started, run_id=run_id)
    result.run = run
    catalog.publish(package, version_doc, run)


def _record_failure(catalog: Catalog, bundle: Bundle, result: PublishResult, started: str,
                    run_id: str | None) -> None:
    manifest = bundle.manifest(published=started)
    result.run = run_document(manifest, result, started=started, run_id=run_id)
    try:
        catalog.record_run(result.run)
    except DvbuildError as e:
        console.log(f"warning: {bundle.name}: the failed run was not recorded: {e.message}")


def run_document(manifest: Mapping[str, Any], result: PublishResult, *, started: str,
                 run_id: str | None = None, status: str | None = None) -> dict[str, Any]:
    return {
        "package": result.name, "version": result.version, "status": status or result.status,
        "started": started, "finished": now_iso(), "duration": result.seconds,
        "commit": manifest.get("commit"), "input_hash": manifest.get("input_hash"),
        "files": result.files, "uploaded": result.uploaded, "bytes": result.bytes,
        "bytes_uploaded": result.bytes_uploaded, "latest": result.latest,
        "rows": {r["name"]: r.get("rows") for r in manifest.get("resources", [])},
        "run_id": run_id, "error": result.error,
    }


def _summary(result: PublishResult) -> None:
    if result.status == "failed":
        console.log(f"{result.name}: publish failed: {result.error}")
        return
    mb = result.bytes_uploaded / 1e6
    rate = mb / result.seconds if result.seconds else 0.0
    where = "latest" if result.latest else "not latest (a newer version is)"
    console.log(f"{result.name}@{result.version}: {result.status}, {result.files} files "
                f"({result.uploaded} uploaded, {result.skipped} skipped), {mb:.1f} MB in "
                f"{result.seconds:.2f} s ({rate:.1f} MB/s), {where}")


class _Progress:
    """A one-line counter on a terminal; silent in CI logs, where the summary line goes."""

    def __init__(self, files: int, total: int) -> None:
        self.files, self.total, self.done, self.bytes = files, total, 0, 0
        self.live = sys.stderr.isatty()
        import threading

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
