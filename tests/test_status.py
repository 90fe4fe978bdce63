"""`dvbuild status`: schedules from the repo, last runs from a file catalog filled by real publishes."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from dvbuild.catalogs import open_catalog
from dvbuild.catalogs.status import package_status
from dvbuild.package import Package
from dvbuild.publish import publish_dirs


def monorepo(make_repo: Callable[..., Any], config: str = "") -> Any:
    repo = make_repo(commit=False)
    if config:
        repo.write("dvbuild.yaml", config)
    repo.write_package("packages/weekdays", schedule="15 6 * * 1-5",
                       resources=[{"name": "data", "path": "data.csv"}])
    repo.write_package("packages/on-push", resources=[{"name": "data", "path": "data.csv"}])
    repo.commit("packages")
    return repo


def built(repo: Any, tmp_path: Path, name: str, rows: int) -> Path:
    """What `dvbuild test` leaves in OUT/<name>/: the package folder plus its outputs."""
    folder = tmp_path / "build" / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(repo.path / "packages" / name, folder)
    lines = ["id,value"] + [f"{i},{i * i}" for i in range(rows)]
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    return folder


def publish(repo: Any, tmp_path: Path, name: str, rows: int, catalog: str) -> Any:
    store = (tmp_path / "store").as_uri()
    [result] = publish_dirs([built(repo, tmp_path, name, rows)], store, catalog, environ={},
                            commit=repo.head)
    assert result.status == "published", result.error
    return result


def test_status_reads_runs_written_by_publish(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    catalog = (tmp_path / "catalog").as_uri()
    publish(repo, tmp_path, "weekdays", 2, catalog)
    second = publish(repo, tmp_path, "weekdays", 3, catalog)
    publish(repo, tmp_path, "on-push", 5, catalog)
    result = cli("status", "--repo", repo.path, "--catalog", catalog, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["catalog"] == catalog
    rows = {r["name"]: r for r in doc["packages"]}
    weekdays = rows["weekdays"]
    assert weekdays["schedule"] == "15 6 * * 1-5"
    assert weekdays["when"] == "at 06:15, Monday through Friday, Europe/Oslo"
    assert len(weekdays["next_runs"]) == 3
    assert all(datetime.fromisoformat(t).strftime("%H:%M") == "06:15"
               for t in weekdays["next_runs"])
    assert weekdays["version"] == second.version
    last = weekdays["last_run"]
    assert last["status"] == "published" and last["version"] == second.version
    assert last["rows"] == 3
    assert last["bytes"] == second.bytes
    assert isinstance(last["duration"], float)
    assert last["commit"] == repo.head
    push = rows["on-push"]
    assert (push["schedule"], push["when"], push["next_runs"]) == (None, "on push", [])
    assert push["last_run"]["rows"] == 5


def test_status_table(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    catalog = (tmp_path / "catalog").as_uri()
    result = publish(repo, tmp_path, "weekdays", 1234, catalog)
    out = cli("status", "--repo", repo.path, "--catalog", catalog)
    assert out.code == 0, out.err
    assert "at 06:15, Monday through Friday, Europe/Oslo" in out.out
    assert "on push" in out.out and "never" in out.out
    assert result.version in out.out
    assert "1,234" in out.out and "published" in out.out


def test_default_catalog_is_the_local_file_catalog(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    catalog = (repo.path / "out" / "catalog").as_uri()
    publish(repo, tmp_path, "on-push", 1, catalog)
    doc = cli("status", "--repo", repo.path, "--json").json()
    assert doc["catalog"] == catalog
    assert {r["name"]: r["last_run"] is not None for r in doc["packages"]} == {
        "weekdays": False, "on-push": True}


def test_status_and_lineage_read_the_last_local_runs_catalog(make_repo, cli, tmp_path):
    import nbformat

    repo = make_repo(commit=False)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("open('data.csv', 'w').write('id\\n1\\n')")]
    repo.write("packages/solo/main.ipynb", nbformat.writes(nb))
    repo.write_package("packages/solo", resources=[{"name": "data", "path": "data.csv"}])
    repo.commit("one package")
    out = tmp_path / "elsewhere"
    local = cli("local", "--all", "--no-build", "--out", out, "--repo", repo.path)
    assert local.code == 0, local.err
    state = json.loads((repo.path / ".dvbuild" / "last-local.json").read_text())
    assert state["out"] == str(out.resolve())
    assert (repo.path / ".dvbuild" / ".gitignore").read_text() == "*\n"
    assert "??" not in repo.git("status", "--porcelain")  # git never sees the state
    res = cli("status", "--repo", repo.path, "--json")
    doc = res.json()
    assert Path(doc["catalog"].removeprefix("file://")) == out.resolve() / "catalog"
    assert "last dvbuild local run" in doc["catalog_from"] and "last dvbuild local" in res.err
    assert doc["packages"][0]["last_run"]["status"] == "published"
    lineage = cli("lineage", "solo", "--repo", repo.path, "--json")
    assert lineage.code == 0 and str(out.resolve() / "catalog") in lineage.err
    shutil.rmtree(out)  # gone: back to the default
    doc = cli("status", "--repo", repo.path, "--json").json()
    assert doc["catalog"] == (repo.path / "out" / "catalog").as_uri()


def test_catalog_from_dvbuild_yaml(make_repo, cli, tmp_path):
    catalog = (tmp_path / "shared-catalog").as_uri()
    repo = monorepo(make_repo, f"catalog: {catalog}\n")
    publish(repo, tmp_path, "weekdays", 1, catalog)
    doc = cli("status", "--repo", repo.path, "--json").json()
    assert doc["catalog"] == catalog
    assert doc["packages"][1]["last_run"]["status"] == "published"


def test_empty_catalog_shows_schedules(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    result = cli("status", "--repo", repo.path, "--catalog", (tmp_path / "none").as_uri(),
                 "--json")
    assert result.code == 0
    assert all(r["last_run"] is None and r["version"] is None for r in result.json()["packages"])


def test_invalid_schedule_is_shown_then_exit_2(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    repo.write_package("packages/weekdays", schedule="99 6 * * *")
    repo.commit("bad")
    result = cli("status", "--repo", repo.path, "--catalog", (tmp_path / "c").as_uri(), "--json")
    assert result.code == 2
    assert "packages/weekdays/datapackage.json /schedule" in result.err
    rows = {r["name"]: r for r in json.loads(result.out)["packages"]}
    assert rows["weekdays"]["when"].startswith("invalid:")


def test_package_status_is_pure(tmp_path):
    package = Package(name="p", path="packages/p", folder=tmp_path,
                      descriptor={"name": "p", "schedule": "@daily", "timezone": "UTC"})
    now = datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("UTC"))
    runs = [{"package": "p", "status": "failed", "version": "0.1.0-abc", "duration": 2.5,
             "rows": {"a": 2, "b": None, "c": 3}, "bytes": 10, "started": "2026-03-01T00:00:00Z"}]
    row = package_status(package, runs, None, now)
    assert row["next_runs"] == ["2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00",
                                "2026-03-04T00:00:00+00:00"]
    assert row["version"] == "0.1.0-abc"
    assert row["last_run"]["rows"] == 5 and row["last_run"]["status"] == "failed"


def test_status_shows_reads_and_read_by(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    repo.write_package("packages/combined", reads=["weekdays", "on-push",
                                                   {"name": "elsewhere", "external": True}])
    repo.write_package("packages/report", reads=["combined", "weekdays"])
    repo.commit("readers")
    catalog = (tmp_path / "none").as_uri()
    doc = cli("status", "--repo", repo.path, "--catalog", catalog, "--json").json()
    edges = {r["name"]: (r["reads"], r["read_by"]) for r in doc["packages"]}
    assert edges == {
        "weekdays": ([], ["combined", "report"]),
        "on-push": ([], ["combined"]),
        "combined": (["weekdays", "on-push", "elsewhere"], ["report"]),
        "report": (["combined", "weekdays"], []),
    }
    table = cli("status", "--repo", repo.path, "--catalog", catalog).out
    assert "weekdays, on-push, elsewhere" in table
    assert "read by combined, report" in table
    assert "Reads" in table.splitlines()[2]


def test_package_status_edges_are_pure(tmp_path):
    package = Package(name="p", path="p", folder=tmp_path,
                      descriptor={"name": "p", "reads": ["a", {"name": "x", "external": True}]})
    row = package_status(package, [], None, read_by=["b"])
    assert (row["reads"], row["read_by"]) == (["a", "x"], ["b"])
    assert package_status(package, [], None)["read_by"] == []


ES_HEADERS = {"X-Elastic-Product": "Elasticsearch", "content-type": "application/json"}


def es_hits(index: str, docs: list[dict[str, Any]]) -> Response:
    body = {"took": 1, "timed_out": False, "_shards": {"total": 1, "successful": 1, "failed": 0},
            "hits": {"total": {"value": len(docs), "relation": "eq"}, "max_score": None,
                     "hits": [{"_index": f"{index}-v1", "_id": str(i), "_score": None,
                               "_source": d} for i, d in enumerate(docs)]}}
    return Response(json.dumps(body), headers=ES_HEADERS)


def test_status_from_elasticsearch(make_repo, cli, tmp_path, httpserver: HTTPServer):
    """Elasticsearch answers with the documents real publishes wrote (to a file catalog)."""
    repo = monorepo(make_repo)
    catalog = (tmp_path / "catalog").as_uri()
    result = publish(repo, tmp_path, "weekdays", 7, catalog)
    written = open_catalog(catalog, {})
    httpserver.expect_request("/dvbuild-runs/_search", method="POST").respond_with_response(
        es_hits("dvbuild-runs", written.runs()))
    httpserver.expect_request("/dvbuild-packages/_search", method="POST").respond_with_response(
        es_hits("dvbuild-packages", written.packages()))
    out = cli("status", "--repo", repo.path, "--catalog", httpserver.url_for("/"), "--json")
    assert out.code == 0, out.err
    rows = {r["name"]: r for r in out.json()["packages"]}
    assert rows["weekdays"]["version"] == result.version
    assert rows["weekdays"]["last_run"]["rows"] == 7
    assert rows["on-push"]["last_run"] is None


def test_unreachable_catalog_shows_schedules_then_exit_1(make_repo, cli, httpserver: HTTPServer):
    repo = monorepo(make_repo)
    httpserver.expect_request("/dvbuild-runs/_search").respond_with_response(Response(
        json.dumps({"error": {"type": "security_exception", "reason": "missing authentication"},
                    "status": 401}), status=401, headers=ES_HEADERS))
    out = cli("status", "--repo", repo.path, "--catalog", httpserver.url_for("/"))
    assert out.code == 1
    assert "at 06:15, Monday through Friday" in out.out
    assert "Traceback" not in out.err and "catalog" in out.err


@pytest.mark.elastic
@pytest.mark.skipif(not os.environ.get("DVBUILD_TEST_ELASTIC_URL"),
                    reason="needs DVBUILD_TEST_ELASTIC_URL")
def test_status_against_real_elasticsearch(make_repo, cli, tmp_path):
    url = os.environ["DVBUILD_TEST_ELASTIC_URL"]
    repo = make_repo(commit=False)
    name = f"t{uuid.uuid4().hex[:10]}"
    repo.write_package(f"packages/{name}", schedule="@daily",
                       resources=[{"name": "data", "path": "data.csv"}])
    repo.commit("one")
    result = publish(repo, tmp_path, name, 4, url)
    out = cli("status", "--repo", repo.path, "--catalog", url, "--json")
    assert out.code == 0, out.err
    [row] = out.json()["packages"]
    assert row["version"] == result.version and row["last_run"]["rows"] == 4
