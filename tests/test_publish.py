"""Publishing to the file store and file catalog: layout, idempotence, order, bad input."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvbuild import publish as pub
from dvbuild.catalogs import open_catalog
from dvbuild.errors import ConfigError, ServiceError, UsageError
from dvbuild.stores import open_store
from dvbuild.stores.file import FileStore

VERSION_RE = re.compile(r"^1\.2\.0-[0-9a-f]{12}$")


def make_dir(root: Path, name: str = "demo", rows: int = 3, **extra: Any) -> Path:
    folder = root / name
    (folder / "data").mkdir(parents=True, exist_ok=True)
    descriptor = {
        "name": name, "version": "1.2.0", "title": "Demo data", "keywords": ["x"],
        "resources": [{"name": "tab", "path": "data/tab.csv", "mediatype": "text/csv",
                       "schema": {"fields": [{"name": "a", "type": "integer"},
                                             {"name": "b", "type": "string"}]}}],
        **extra,
    }
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    (folder / "data" / "tab.csv").write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(rows)))
    (folder / "README.md").write_text("# demo\n")
    (folder / "main.ipynb").write_text('{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}')
    (folder / "main.html").write_text("<html></html>")
    (folder / "main.py").write_text("print(1)\n")  # not published
    return folder


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return (tmp_path / "store").as_uri()


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    return (tmp_path / "catalog").as_uri()


def publish(folder: Path, store_url: str, catalog_url: str | None = None,
            **kw: Any) -> pub.PublishResult:
    [result] = pub.publish_dirs([folder], store_url, catalog_url, environ={}, **kw)
    return result


def test_publish_layout(tmp_path: Path, store_url: str) -> None:
    folder = make_dir(tmp_path / "out")
    (folder / "report.json").write_text(json.dumps({"commit": "abc123", "input_hash": "f" * 64}))
    result = publish(folder, store_url)
    assert result.status == "published" and result.latest and result.uploaded == 5
    assert VERSION_RE.match(result.version or "")
    root = tmp_path / "store" / "demo"
    latest = json.loads((root / "latest.json").read_text())
    assert set(latest) == {"version", "manifest_sha256", "published"}
    assert latest["version"] == result.version
    vdir = root / "versions" / result.version
    files = sorted(p.relative_to(vdir).as_posix() for p in vdir.rglob("*") if p.is_file())
    assert files == ["README.md", "_manifest.json", "data/tab.csv", "datapackage.json",
                     "main.html", "main.ipynb"]
    import hashlib

    manifest_bytes = (vdir / "_manifest.json").read_bytes()
    assert latest["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    manifest = json.loads(manifest_bytes)
    assert [f["path"] for f in manifest["files"]] == [f for f in files if f != "_manifest.json"]
    for f in manifest["files"]:
        assert f["bytes"] == (vdir / f["path"]).stat().st_size
        assert f["sha256"] == hashlib.sha256((vdir / f["path"]).read_bytes()).hexdigest()
    assert manifest["commit"] == "abc123" and manifest["input_hash"] == "f" * 64
    assert manifest["resources"] == [{
        "name": "tab", "path": "data/tab.csv", "format": None, "mediatype": "text/csv",
        "bytes": (folder / "data/tab.csv").stat().st_size,
        "sha256": manifest["files"][1]["sha256"], "rows": 3,
        "columns": [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]}]
    content = [f for f in manifest["files"] if f["path"] not in ("main.ipynb", "main.html")]
    assert result.version == pub.version_id("1.2.0", pub.collect(folder).content)
    assert sorted(f["path"] for f in pub.collect(folder).content) == [f["path"] for f in content]

    store = open_store(store_url, {})
    assert pub.latest(store, "demo") == latest
    assert pub.read_manifest(store, "demo", result.version) == manifest
    assert pub.versions(store, "demo") == [result.version]
    assert pub.latest(store, "nope") is None and pub.read_manifest(store, "demo", "1.0.0-x") is None


def test_same_content_publishes_nothing(tmp_path: Path, store_url: str) -> None:
    folder = make_dir(tmp_path / "out")
    first = publish(folder, store_url, commit="c1")
    latest = (tmp_path / "store/demo/latest.json").read_bytes()
    second = publish(folder, store_url, commit="c2")
    assert second.status == "unchanged" and second.uploaded == 0 and second.skipped == 6 - 1
    assert second.version == first.version and second.latest
    assert (tmp_path / "store/demo/latest.json").read_bytes() == latest
    assert pub.versions(open_store(store_url, {}), "demo") == [first.version]


def test_new_content_moves_latest_and_rollback(tmp_path: Path, store_url: str, cli: Any) -> None:
    first = publish(make_dir(tmp_path / "a", rows=3), store_url)
    second = publish(make_dir(tmp_path / "b", rows=4), store_url)
    assert first.version != second.version and second.latest
    store = open_store(store_url, {})
    assert pub.versions(store, "demo") == [second.version, first.version]
    res = cli("versions", "demo", "--store", store_url, "--json")
    assert res.code == 0, res.err
    assert [(v["version"], v["latest"]) for v in res.json()["versions"]] == [
        (second.version, True), (first.version, False)]
    res = cli("publish", "--rollback", first.version, "demo", "--store", store_url, "--json")
    assert res.code == 0, res.err
    assert res.json()["latest"]["version"] == first.version
    assert pub.latest(store, "demo")["version"] == first.version  # type: ignore[index]
    res = cli("publish", "--rollback", "1.2.0-000000000000", "demo", "--store", store_url)
    assert res.code == 2 and "no complete version" in res.err


def test_latest_never_moves_backwards(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "s")
    assert pub.move_latest(store, "p", "1.0.0-aaaaaaaaaaaa", "x", "2026-01-02T00:00:00.000Z")
    assert not pub.move_latest(store, "p", "1.0.0-bbbbbbbbbbbb", "y", "2026-01-01T00:00:00.000Z")
    assert pub.latest(store, "p")["version"] == "1.0.0-aaaaaaaaaaaa"  # type: ignore[index]
    assert pub.move_latest(store, "p", "1.0.0-bbbbbbbbbbbb", "y", "2026-01-03T00:00:00.000Z")


class FlakyStore(FileStore):
    """A real file store whose writes start failing after `budget` files (a crash)."""

    def __init__(self, root: Path, budget: int) -> None:
        super().__init__(root)
        self.budget = budget
        self.concurrency = 1
        self.writes: list[str] = []

    def write(self, key: str, source: Path | bytes, **kw: Any) -> None:
        if self.budget <= 0:
            raise ServiceError("connection lost")
        self.budget -= 1
        self.writes.append(key)
        super().write(key, source, **kw)


def test_interrupted_publish_is_invisible_and_rerun_finishes(tmp_path: Path) -> None:
    old = pub.collect(make_dir(tmp_path / "a", rows=1))
    pub.publish_bundle(FileStore(tmp_path / "s"), None, old)
    bundle = pub.collect(make_dir(tmp_path / "b", rows=9))
    flaky = FlakyStore(tmp_path / "s", budget=2)
    result = pub.publish_bundle(flaky, None, bundle)
    assert result.status == "failed" and "connection lost" in (result.error or "")
    assert pub.latest(flaky, "demo")["version"] == old.version  # type: ignore[index]
    assert pub.versions(flaky, "demo") == [old.version]
    again = FlakyStore(tmp_path / "s", budget=100)
    result = pub.publish_bundle(again, None, bundle)
    assert result.status == "published" and result.uploaded == 3 and result.skipped == 2
    assert len(again.writes) == 3  # only what was missing
    assert pub.latest(again, "demo")["version"] == bundle.version  # type: ignore[index]


def test_concurrent_publishes_end_on_one_complete_version(tmp_path: Path, store_url: str) -> None:
    dirs = [make_dir(tmp_path / f"d{i}", rows=i + 1) for i in range(6)]
    results: list[pub.PublishResult] = []
    threads = [threading.Thread(target=lambda d=d: results.append(publish(d, store_url)))
               for d in dirs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status == "published" for r in results)
    store = open_store(store_url, {})
    latest = pub.latest(store, "demo")
    assert latest and latest["version"] in pub.versions(store, "demo")
    assert len(pub.versions(store, "demo")) == 6


@pytest.mark.parametrize("attempt", range(5))
def test_of_two_racing_publishes_exactly_one_says_latest(tmp_path: Path, store_url: str,
                                                         attempt: int) -> None:
    dirs = [make_dir(tmp_path / f"d{i}", rows=i + 1) for i in range(2)]
    start = threading.Barrier(2)
    results: list[pub.PublishResult] = []

    def run(folder: Path) -> None:
        start.wait()
        results.append(publish(folder, store_url))

    threads = [threading.Thread(target=run, args=(d,)) for d in dirs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status for r in results} == {"published"}
    [winner] = [r for r in results if r.latest]
    store = open_store(store_url, {})
    latest = pub.latest(store, "demo")
    assert latest is not None and latest["version"] == winner.version
    assert winner.version in pub.versions(store, "demo")  # complete: its manifest exists
    assert pub.read_manifest(store, "demo", winner.version) is not None


def test_a_store_that_ignores_conditions_cannot_put_an_older_version_back(
        tmp_path: Path) -> None:
    class Unconditional(FileStore):  # S3 behind a gateway that drops If-Match
        def write_if(self, key: str, data: bytes, *, token: str | None, content_type: str,
                     cache_control: str = "") -> bool:
            self.write(key, data, sha256="", content_type=content_type)
            return True

    store = Unconditional(tmp_path / "store")
    newer = ("1.0.0-bbbbbbbbbbbb", "y", "2026-01-02T00:00:00.000Z")
    older = ("1.0.0-aaaaaaaaaaaa", "x", "2026-01-01T00:00:00.000Z")
    assert pub.move_latest(store, "p", *newer)
    # the older job read latest.json before the newer one wrote, and writes over it now
    stale = {"version": older[0], "manifest_sha256": older[1], "published": older[2]}
    store.write("p/latest.json", json.dumps(stale).encode(), sha256="",
                content_type="application/json")
    assert pub.holds_latest(store, "p", *newer, moved=True)
    assert not pub.holds_latest(store, "p", *older, moved=False)
    assert pub.latest(store, "p")["version"] == newer[0]  # type: ignore[index]


def test_catalog_documents(tmp_path: Path, store_url: str, catalog_url: str) -> None:
    first = publish(make_dir(tmp_path / "a", rows=2), store_url, catalog_url, commit="c1")
    second = publish(make_dir(tmp_path / "b", rows=5), store_url, catalog_url, commit="c2")
    publish(make_dir(tmp_path / "b", rows=5), store_url, catalog_url, commit="c2")
    catalog = open_catalog(catalog_url, {})
    [package] = catalog.packages()
    assert package["name"] == "demo" and package["version"] == second.version
    assert package["title"] == "Demo data" and package["commit"] == "c2"
    assert package["resources"][0]["rows"] == 5
    assert package["notebooks"][0]["html_url"].endswith(f"{second.version}/main.html")
    runs = catalog.runs("demo")
    assert [r["status"] for r in runs] == ["unchanged", "published", "published"]
    assert runs[0]["rows"] == {"tab": 5} and runs[2]["version"] == first.version
    assert catalog.runs("other") == []
    assert [v["version"] for v in catalog.versions("demo")] == [second.version, first.version]
    root = tmp_path / "catalog"
    assert (root / "dvbuild-packages/demo.json").is_file()
    assert (root / f"dvbuild-versions/demo@{first.version}.json").is_file()


def test_stale_package_document_is_ignored(tmp_path: Path) -> None:
    catalog = open_catalog((tmp_path / "c").as_uri(), {})
    run = {"package": "p", "started": "2026-01-01T00:00:00.000Z"}
    catalog.publish({"name": "p", "version": "new", "published_ms": 2}, {"name": "p", "version": "new"}, run)
    catalog.publish({"name": "p", "version": "old", "published_ms": 1}, {"name": "p", "version": "old"}, run)
    assert [p["version"] for p in catalog.packages()] == ["new"]


def test_cli_publish_json(tmp_path: Path, store_url: str, cli: Any) -> None:
    folder = make_dir(tmp_path / "out")
    res = cli("publish", folder, "--store", store_url, "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["store"] == store_url and doc["packages"][0]["status"] == "published"
    assert "published" in res.err  # the summary line goes to stderr


BadCase = Callable[[Path], None]


def _no_descriptor(d: Path) -> None:
    (d / "datapackage.json").unlink()


def _missing_file(d: Path) -> None:
    (d / "data/tab.csv").unlink()


def _escaping(d: Path) -> None:
    (d.parent / "secret.csv").write_text("x\n")
    _set_path(d, "../secret.csv")


def _absolute(d: Path) -> None:
    _set_path(d, str(d / "data/tab.csv"))


def _symlink_out(d: Path) -> None:
    (d.parent / "secret.csv").write_text("x\n")
    os.symlink(d.parent / "secret.csv", d / "data/link.csv")
    _set_path(d, "data/link.csv")


def _doc_out(d: Path) -> None:  # README.md & co. are published by name
    (d.parent / "hostname").write_text("not the package's\n")
    (d / "README.md").unlink()
    os.symlink(d.parent / "hostname", d / "README.md")


def _html_out(d: Path) -> None:
    (d.parent / "page.html").write_text("<html>not the package's</html>")
    (d / "main.html").unlink()
    os.symlink(d.parent / "page.html", d / "main.html")


def _bad_version(d: Path) -> None:
    desc = json.loads((d / "datapackage.json").read_text())
    (d / "datapackage.json").write_text(json.dumps({**desc, "version": "v1"}))


def _set_path(d: Path, path: str) -> None:
    desc = json.loads((d / "datapackage.json").read_text())
    desc["resources"][0]["path"] = path
    (d / "datapackage.json").write_text(json.dumps(desc))


@pytest.mark.parametrize(("spoil", "message", "pointer"), [
    (_no_descriptor, "no datapackage.json here", ""),
    (_missing_file, "resource file 'data/tab.csv' is missing", "/resources/0/path"),
    (_escaping, "path '../secret.csv' contains '..'", "/resources/0/path"),
    (_absolute, "is absolute", "/resources/0/path"),
    (_symlink_out, "leaves the folder through a symbolic link", "/resources/0/path"),
    (_doc_out, "README.md: leaves the folder through a symbolic link", ""),
    (_html_out, "main.html: leaves the folder through a symbolic link", ""),
    (_bad_version, "version is 'v1'", "/version"),
])
def test_bad_input_writes_nothing(tmp_path: Path, store_url: str, cli: Any, spoil: BadCase,
                                  message: str, pointer: str) -> None:
    bad = make_dir(tmp_path / "bad")
    spoil(bad)
    with pytest.raises(ConfigError) as e:
        pub.publish_dirs([bad], store_url, None, environ={})
    assert message in str(e.value) and e.value.problems[0].pointer == pointer
    res = cli("publish", bad, "--store", store_url)
    assert res.code == 2 and message in res.err and "Traceback" not in res.err
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(("spoil", "message", "pointer"), [
    (_no_descriptor, "no datapackage.json here", ""),
    (_missing_file, "resource file 'data/tab.csv' is missing", "/resources/0/path"),
    (_bad_version, "version is 'v1'", "/version"),
])
def test_one_bad_package_fails_alone(tmp_path: Path, store_url: str, cli: Any, spoil: BadCase,
                                     message: str, pointer: str) -> None:
    good = make_dir(tmp_path / "good", name="good")
    bad = make_dir(tmp_path / "bad")
    spoil(bad)
    first, second = pub.publish_dirs([bad, good], store_url, None, environ={})
    assert (first.status, first.dir, first.version) == ("failed", str(bad), None)
    assert message in str(first.error) and first.problems[0]["pointer"] == pointer
    assert first.problems[0]["file"].startswith(str(bad))
    assert second.status == "published" and second.latest
    res = cli("publish", bad, good, "--store", (tmp_path / "s2").as_uri(), "--json")
    assert res.code == 1, res.err
    refused, published = res.json()["packages"]
    assert refused["status"] == "failed" and refused["problems"][0]["pointer"] == pointer
    assert refused["name"] == "demo"  # the descriptor's name, else the folder's
    assert published["name"] == "good" and published["status"] == "published"
    assert message in res.err and "Traceback" not in res.err
    assert pub.versions(open_store((tmp_path / "s2").as_uri(), {}), "good")


def test_a_package_given_twice_is_bad_usage(tmp_path: Path, store_url: str, cli: Any) -> None:
    folder = make_dir(tmp_path / "a")
    res = cli("publish", folder, make_dir(tmp_path / "b"), "--store", store_url)
    assert res.code == 2 and "given twice" in res.err
    assert not (tmp_path / "store").exists()


def test_unwritable_store_is_a_clear_failure(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "ro").write_text("a file where the store folder should be")
    res = cli("publish", make_dir(tmp_path / "out"), "--store", (tmp_path / "ro").as_uri())
    assert res.code == 1 and "cannot write" in res.err and "Traceback" not in res.err


def test_file_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert FileStore.from_url("file://out/store").root == tmp_path / "out/store"
    assert FileStore.from_url("file:rel").root == tmp_path / "rel"
    assert FileStore.from_url(f"file://{tmp_path}/a%20b").root == tmp_path / "a b"
    assert FileStore.from_url("plain/dir").root == tmp_path / "plain/dir"
    with pytest.raises(UsageError):
        open_store("ftp://x/y", {})


def test_failed_publish_is_recorded_in_the_catalog(tmp_path: Path, catalog_url: str) -> None:
    bundle = pub.collect(make_dir(tmp_path / "a"))
    catalog = open_catalog(catalog_url, {})
    result = pub.publish_bundle(FlakyStore(tmp_path / "s", budget=1), catalog, bundle, run_id="9")
    assert result.status == "failed" and not result.catalog
    [run] = catalog.runs("demo")
    assert run["status"] == "failed" and run["error"] == "connection lost" and run["run_id"] == "9"
    assert catalog.packages() == []
    # every file there but no manifest: the rerun uploads nothing and still completes it
    store = FileStore(tmp_path / "s")
    for f in bundle.files:
        store.write(f"demo/versions/{bundle.version}/{f.path}", f.source, sha256=f.sha256,
                    content_type=f.content_type)
    done = pub.publish_bundle(store, catalog, bundle)
    assert done.status == "published" and done.uploaded == 0 and done.latest and done.catalog
    assert [r["status"] for r in catalog.runs("demo")] == ["published", "failed"]


def test_store_and_catalog_from_dvbuild_yaml(tmp_path: Path, make_repo: Any, cli: Any) -> None:
    repo = make_repo()
    store, catalog = tmp_path / "s", tmp_path / "c"
    repo.write("dvbuild.yaml", f"store: {store.as_uri()}\ncatalog: {catalog.as_uri()}\n")
    folder = make_dir(tmp_path / "out")
    res = cli("publish", folder, "--json", cwd=repo.path)
    assert res.code == 0, res.err
    assert res.json()["store"] == store.as_uri() and (catalog / "dvbuild-packages").is_dir()
    res = cli("versions", "demo", cwd=repo.path)
    assert res.code == 0 and res.out.startswith("* 1.2.0-")
    res = cli("publish", folder, cwd=tmp_path)
    assert res.code == 2 and "--store is required" in res.err


def test_rollback_updates_the_catalog(tmp_path: Path, store_url: str, catalog_url: str,
                                      cli: Any) -> None:
    first = publish(make_dir(tmp_path / "a", rows=1), store_url, catalog_url)
    publish(make_dir(tmp_path / "b", rows=2), store_url, catalog_url)
    res = cli("publish", "--rollback", first.version, "demo", "--store", store_url,
              "--catalog", catalog_url)
    assert res.code == 0, res.err
    catalog = open_catalog(catalog_url, {})
    assert catalog.packages()[0]["version"] == first.version
    assert catalog.runs("demo")[0]["status"] == "rollback"
    res = cli("publish", "--rollback", first.version, "a", "b", "--store", store_url)
    assert res.code == 2 and "exactly one" in res.err


def test_invalid_descriptor_is_bad_input(tmp_path: Path, store_url: str, cli: Any) -> None:
    folder = make_dir(tmp_path / "out")
    desc = json.loads((folder / "datapackage.json").read_text())
    del desc["resources"][0]["name"]
    (folder / "datapackage.json").write_text(json.dumps(desc))
    res = cli("publish", folder, "--store", store_url)
    assert res.code == 2 and "/resources/0/name" in res.err
    (folder / "datapackage.json").write_text("{not json")
    res = cli("publish", folder, "--store", store_url)
    assert res.code == 2 and "malformed JSON" in res.err and ":1:2" in res.err
    assert not (tmp_path / "store").exists()


def test_store_from_environment(tmp_path: Path, cli: Any) -> None:
    store = (tmp_path / "s").as_uri()
    res = cli("publish", make_dir(tmp_path / "out"), "--json", cwd=tmp_path,
              env={"DVBUILD_STORE": store})
    assert res.code == 0 and res.json()["store"] == store and res.json()["catalog"] is None


@pytest.mark.parametrize("version", ["1.2.3", "1.0.0-rc.1", "1.2", "2026", "2023-03-30", "v1",
                                     "1..2", "1.2\n", "", "9" * 65])
def test_validate_and_publish_agree_on_versions(tmp_path: Path, version: str) -> None:
    from dvbuild.package import version_problem
    from dvbuild.validate.packages import descriptor_problems

    folder = make_dir(tmp_path, version=version)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    validate_ok = not [p for p in descriptor_problems(descriptor, "f", folder)
                       if p.pointer == "/version"]
    try:
        bundle = pub.collect(folder)
    except ConfigError as e:
        assert [p.pointer for p in e.problems] == ["/version"]
        publish_ok = False
    else:
        assert bundle.version.startswith(f"{version}-")
        publish_ok = True
    assert validate_ok is publish_ok is (version_problem(version) is None)


def test_a_missing_version_is_the_default(tmp_path: Path) -> None:
    folder = make_dir(tmp_path)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    del descriptor["version"]
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    assert pub.collect(folder).semver == "0.1.0"


READS = [{"name": "befolkning", "version": "1.1.0-bbbbbbbbbbbb", "resource": "tab", "sha256": "b" * 64},
         {"name": "kommuner", "version": "0.1.0-cccccccccccc", "resource": None, "sha256": "c" * 64}]


def test_inputs_are_provenance_not_content(tmp_path: Path, store_url: str, catalog_url: str) -> None:
    from dvbuild.api.read import INPUTS
    from dvbuild.catalogs.lineage import lineage

    plain = pub.collect(make_dir(tmp_path / "a"))
    folder = make_dir(tmp_path / "b")
    (folder / "report.json").write_text(json.dumps({"commit": "c1", "inputs": READS}))
    (folder / INPUTS).write_text("".join(json.dumps(r) + "\n" for r in READS))
    assert pub.collect(folder).version == plain.version  # inputs never change the digest
    assert plain.manifest(published="x")["inputs"] == []
    result = publish(folder, store_url, catalog_url)
    vdir = tmp_path / "store/demo/versions" / str(result.version)
    assert json.loads((vdir / "_manifest.json").read_text())["inputs"] == READS
    assert not (vdir / INPUTS).exists() and INPUTS not in [f.path for f in plain.files]
    catalog = open_catalog(catalog_url, {})
    assert catalog.packages()[0]["inputs"] == catalog.versions("demo")[0]["inputs"] == READS
    assert [n["name"] for n in lineage(catalog, "demo")["upstream"]] == ["befolkning", "kommuner"]


def test_malformed_inputs_in_a_report_are_left_out(tmp_path: Path) -> None:
    folder = make_dir(tmp_path)
    (folder / "report.json").write_text(json.dumps({"inputs": ["x", {"name": "a"}, READS[0]]}))
    assert pub.collect(folder).inputs == [READS[0]]
    (folder / "report.json").write_text(json.dumps({"inputs": "befolkning"}))
    assert pub.collect(folder).inputs == []


def test_version_covers_what_a_consumer_reads(tmp_path: Path) -> None:
    """The data, its descriptor (without `created`) and the docs make the version; the
    executed notebooks and their HTML do not."""
    folder = make_dir(tmp_path)
    first = pub.collect(folder).version

    def version_after(change: Callable[[], object]) -> str:
        change()
        return pub.collect(folder).version

    assert version_after(lambda: (folder / "main.ipynb").write_text('{"cells": [1]}')) == first
    assert version_after(lambda: (folder / "main.html").write_text("<p>rerun</p>")) == first
    descriptor = json.loads((folder / "datapackage.json").read_text())
    assert version_after(lambda: (folder / "datapackage.json").write_text(json.dumps(
        {"created": "2031-01-01T00:00:00Z", **dict(reversed(descriptor.items()))},
        indent=4))) == first  # a timestamp, key order and whitespace are not data
    assert version_after(lambda: (folder / "README.md").write_text("# demo, explained\n")) != first
    docs = pub.collect(folder).version
    assert version_after(lambda: (folder / "datapackage.json").write_text(
        json.dumps({**descriptor, "title": "Other"}))) != docs
    titled = pub.collect(folder).version
    assert version_after(lambda: (folder / "data/tab.csv").write_text("a,b\n9,x9\n")) != titled


def test_a_rerun_with_new_notebooks_on_the_same_data_uploads_nothing(
    tmp_path: Path, store_url: str
) -> None:
    folder = make_dir(tmp_path / "out")
    first = publish(folder, store_url)
    (folder / "main.ipynb").write_text('{"cells": [], "nbformat": 4, "metadata": {"rerun": 1}}')
    (folder / "main.html").write_text("<html>rerun</html>")
    again = publish(folder, store_url)
    assert again.status == "unchanged" and again.uploaded == 0 and again.version == first.version
    vdir = tmp_path / "store/demo/versions" / str(first.version)
    assert (vdir / "main.html").read_text() == "<html></html>"  # the version keeps its own


PROVENANCE = {"mode": "production", "parameters": {"rows": 5}, "commit": "c" * 40,
              "input_hash": "f" * 64, "dvbuild_version": "0.1.0",
              "image": {"ref": "r.io/team/demo:abc", "digest": "sha256:" + "d" * 64},
              "run_url": "https://github.com/navikt/team/actions/runs/42"}


def test_the_manifest_records_provenance_outside_the_version(
    tmp_path: Path, store_url: str
) -> None:
    plain = pub.collect(make_dir(tmp_path / "a"))
    folder = make_dir(tmp_path / "b")
    (folder / "report.json").write_text(json.dumps(PROVENANCE))
    assert pub.collect(folder).version == plain.version
    result = publish(folder, store_url)
    manifest = json.loads((tmp_path / "store/demo/versions" / str(result.version)
                           / "_manifest.json").read_text())
    assert {k: manifest[k] for k in PROVENANCE} == PROVENANCE
    assert {k: plain.manifest(published="x")[k] for k in PROVENANCE} == dict.fromkeys(PROVENANCE)
    (folder / "report.json").write_text(json.dumps({"mode": "run"}))  # an older report's word
    assert pub.collect(folder).mode == "production"


def test_test_output_is_refused_unless_allowed(tmp_path: Path, store_url: str, cli: Any) -> None:
    production = make_dir(tmp_path / "prod", name="prod")
    (production / "report.json").write_text(json.dumps({"mode": "production"}))
    tested = make_dir(tmp_path / "out")
    (tested / "report.json").write_text(json.dumps({"mode": "test"}))
    with pytest.raises(UsageError) as refused:
        pub.publish_dirs([production, tested], store_url, None, environ={})
    assert str(tested) in refused.value.message and str(production) not in refused.value.message
    res = cli("publish", tested, "--store", store_url, cwd=tmp_path)
    assert res.code == 2 and "Traceback" not in res.err
    assert str(tested) in res.err and "--allow-test-output" in res.err
    assert "dvbuild run" in res.err
    assert not (tmp_path / "store").exists()  # nothing written
    res = cli("publish", tested, "--store", store_url, "--allow-test-output", "--json", cwd=tmp_path)
    assert res.code == 0, res.err
    [published] = res.json()["packages"]
    assert published["status"] == "published"
    assert pub.read_manifest(open_store(store_url, {}), "demo",
                             published["version"])["mode"] == "test"  # type: ignore[index]
