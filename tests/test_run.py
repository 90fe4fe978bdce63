"""`dvbuild run PATH`: production parameters on a plain folder (no git), publish to a file
store, and a failure that exits 1, says why on stderr and posts the webhook."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from pytest_httpserver import HTTPServer

from dvbuild import __version__
from tests.test_notebooks import notebook

# what the image (DVBUILD_IMAGE_*) and a GitHub Actions runner (GITHUB_*) set
IMAGE_ENV = {"DVBUILD_IMAGE_REF": "r.io/team/pkg:abc", "DVBUILD_IMAGE_DIGEST": "sha256:" + "e" * 64,
             "GITHUB_SERVER_URL": "https://github.example.com", "GITHUB_REPOSITORY": "navikt/team",
             "GITHUB_RUN_ID": "77"}


def package(folder: Path, cells: tuple[str, ...], **fields: Any) -> Path:
    folder.mkdir(parents=True)
    (folder / "main.ipynb").write_text(notebook(*cells, params="rows = 1"))
    descriptor = {"name": folder.name, "resources": [], **fields}
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    return folder


WRITE_CSV = ("import os", "open('t.csv', 'w').write('n\\n' + '\\n'.join(map(str, range(rows))))",
             "print(os.environ['DVBUILD_MODE'], os.environ.get('DB_PASSWORD'))")


def test_run_uses_production_parameters_without_git(tmp_path: Path, cli: Callable[..., Any]) -> None:
    folder = package(tmp_path / "plain" / "pkg", WRITE_CSV, parameters={"rows": 5},
                     test_parameters={"rows": 2}, resources=[{"name": "t", "path": "t.csv"}],
                     secrets={"DB_PASSWORD": "env:PROD_DB"})
    out = tmp_path / "out"
    result = cli("run", folder, "--out", out, "--no-publish", cwd=tmp_path,
                 env={"PROD_DB": "hunter2-prod", "DVBUILD_COMMIT": "c" * 40,
                      "DVBUILD_INPUT_HASH": "f" * 64, **IMAGE_ENV})
    assert result.code == 0, result.err
    report = json.loads((out / "pkg/report.json").read_text())
    assert report["status"] == "passed" and report["mode"] == "production"
    assert report["parameters"] == {"rows": 5} and report["dvbuild_version"] == __version__
    assert report["image"] == {"ref": "r.io/team/pkg:abc", "digest": "sha256:" + "e" * 64}
    assert report["run_url"] == "https://github.example.com/navikt/team/actions/runs/77"
    assert report["commit"] == "c" * 40 and report["input_hash"] == "f" * 64
    assert report["resources"][0]["rows"] == 5
    text = (out / "pkg/main.ipynb").read_text()
    assert "run ***" in text and "hunter2-prod" not in text
    nb = nbformat.read(str(out / "pkg/main.ipynb"), as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_run_publishes_to_the_store(tmp_path: Path, cli: Callable[..., Any]) -> None:
    folder = package(tmp_path / "repo" / "pkg", WRITE_CSV, parameters={"rows": 3},
                     resources=[{"name": "t", "path": "t.csv"}])
    store = tmp_path / "store"
    result = cli("run", folder, "--out", tmp_path / "out", "--store", f"file://{store}",
                 env={"DVBUILD_COMMIT": "a" * 40, "DVBUILD_INPUT_HASH": "b" * 64, **IMAGE_ENV})
    assert result.code == 0, result.err
    latest = json.loads((store / "pkg/latest.json").read_text())
    manifest = json.loads((store / "pkg/versions" / latest["version"] / "_manifest.json").read_text())
    assert manifest.get("input_hash") == "b" * 64
    assert manifest["mode"] == "production" and manifest["parameters"] == {"rows": 3}
    assert manifest["commit"] == "a" * 40 and manifest["dvbuild_version"] == __version__
    assert manifest["image"]["ref"] == "r.io/team/pkg:abc" and manifest["run_url"].endswith("/77")
    paths = {f["path"] for f in manifest["files"]}
    assert {"t.csv", "main.ipynb", "datapackage.json"} <= paths


def test_failed_run_exits_1_and_posts_the_webhook(tmp_path: Path, cli: Callable[..., Any],
                                                  httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    folder = package(tmp_path / "pkg", ("raise RuntimeError('source is down ' + 'x' * rows)",),
                     parameters={"rows": 2})
    store = tmp_path / "store"
    catalog = f"file://{tmp_path / 'catalog'}"
    result = cli("run", folder, "--out", tmp_path / "out", "--store", f"file://{store}",
                 "--catalog", catalog, env={"DVBUILD_NOTIFY_WEBHOOK": httpserver.url_for("/hook")})
    assert result.code == 1
    assert "main.ipynb failed in cell 2: RuntimeError: source is down xx" in result.err
    assert not (store / "pkg").exists()  # nothing published
    (request, _), = httpserver.log
    text = request.get_json()["text"]
    assert "pkg" in text and "RuntimeError" in text and "cell 2" in text
    # the failure is in the catalog's runs, for `dvbuild status`
    from dvbuild.catalogs import open_catalog

    run, = open_catalog(catalog, {}).runs("pkg")
    assert run["status"] == "failed" and "RuntimeError" in run["error"]


def test_missing_secret_fails_the_run(tmp_path: Path, cli: Callable[..., Any],
                                      httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    folder = package(tmp_path / "pkg", ("x = 1",), secrets={"TOKEN": "env:NOPE_NOT_SET"})
    result = cli("run", folder, "--out", tmp_path / "out", "--no-publish",
                 env={"DVBUILD_NOTIFY_WEBHOOK": httpserver.url_for("/hook")})
    assert result.code == 1
    assert "NOPE_NOT_SET" in result.err
    assert len(httpserver.log) == 1


def test_run_test_mode_uses_test_parameters_and_publishes_nothing(
    tmp_path: Path, cli: Callable[..., Any], httpserver: HTTPServer,
) -> None:
    """What `dvbuild test --image` runs inside the image: a test run with its report."""
    folder = package(tmp_path / "plain" / "pkg", WRITE_CSV, parameters={"rows": 5},
                     test_parameters={"rows": 2}, resources=[{"name": "t", "path": "t.csv"}])
    out, store = tmp_path / "out", tmp_path / "store"
    (tmp_path / "plain" / "dvbuild.yaml").write_text(f"store: file://{store}\n")
    result = cli("run", folder, "--test", "--out", out, cwd=tmp_path,
                 env={"DVBUILD_COMMIT": "c" * 40, "DVBUILD_INPUT_HASH": "f" * 64, **IMAGE_ENV,
                      "DVBUILD_NOTIFY_WEBHOOK": httpserver.url_for("/hook")})
    assert result.code == 0, result.err
    report = json.loads((out / "pkg/report.json").read_text())
    assert report["mode"] == "test" and report["parameters"] == {"rows": 2}
    assert report["image"] == {"ref": "r.io/team/pkg:abc", "digest": "sha256:" + "e" * 64}
    assert report["resources"][0]["rows"] == 2 and (out / "pkg/main.html").is_file()
    assert not store.exists()
    (folder / "main.ipynb").write_text(notebook("raise ValueError('boom')", params="rows = 1"))
    failed = cli("run", folder, "--test", "--out", out, cwd=tmp_path,
                 env={"DVBUILD_NOTIFY_WEBHOOK": httpserver.url_for("/hook")})
    assert failed.code == 1 and "boom" in failed.err
    assert json.loads((out / "pkg/report.json").read_text())["status"] == "failed"
    assert not httpserver.log  # a test run notifies nobody
