"""The Elasticsearch catalog at the HTTP boundary (answers shaped as Elasticsearch 8's),
plus tests against a real server when DVBUILD_TEST_ELASTIC_URL is set."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from dvbuild import publish as pub
from dvbuild.catalogs import PACKAGES, RUNS, VERSIONS, open_catalog
from dvbuild.catalogs.elastic import MAPPINGS, ElasticCatalog
from dvbuild.errors import ServiceError
from tests.test_publish import make_dir

ES = {"X-Elastic-Product": "Elasticsearch", "content-type": "application/json"}
COMPAT_JSON = "application/vnd.elasticsearch+json; compatible-with=8"
COMPAT_NDJSON = "application/vnd.elasticsearch+x-ndjson; compatible-with=8"


def es_json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, headers=ES)


class FakeElastic:
    """Answers the handful of calls the catalog makes, as Elasticsearch 8 does, and
    keeps what it was sent."""

    def __init__(self, server: HTTPServer, *, conflicts: bool = False) -> None:
        self.aliases: set[str] = set()
        self.bulks: list[list[dict[str, Any]]] = []
        self.conflicts = conflicts
        server.expect_request("/_bulk", method="POST").respond_with_handler(self.bulk)
        for alias in MAPPINGS:
            server.expect_request(f"/_alias/{alias}", method="HEAD").respond_with_handler(
                lambda r, a=alias: Response(status=200 if a in self.aliases else 404, headers=ES))
            server.expect_request(f"/{alias}-v1", method="PUT").respond_with_handler(
                lambda r, a=alias: self.create(a))

    def create(self, alias: str) -> Response:
        self.aliases.add(alias)
        return es_json({"acknowledged": True, "shards_acknowledged": True, "index": f"{alias}-v1"})

    def bulk(self, request: Request) -> Response:
        lines = [json.loads(x) for x in request.get_data().decode().splitlines()]
        self.bulks.append(lines)
        items = []
        for action in lines[::2]:
            (op, meta), = action.items()
            status = 409 if self.conflicts and op in ("create", "index") else 201
            item: dict[str, Any] = {"_index": f"{meta['_index']}-v1", "_id": meta["_id"],
                                    "status": status}
            if status == 409:
                item["error"] = {"type": "version_conflict_engine_exception",
                                 "reason": f"[{meta['_id']}]: version conflict"}
            items.append({op: item})
        return es_json({"took": 3, "errors": self.conflicts, "items": items})


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeElastic:
    return FakeElastic(httpserver)


def test_publish_writes_mappings_then_one_exact_bulk(
        tmp_path: Path, httpserver: HTTPServer, fake: FakeElastic) -> None:
    store_url = (tmp_path / "store").as_uri()
    folder = make_dir(tmp_path / "out")
    reads = [{"name": "befolkning", "version": "1.1.0-bbbbbbbbbbbb", "resource": "t",
              "sha256": "b" * 64}]
    (folder / "report.json").write_text(json.dumps({"commit": "c0ffee", "input_hash": "ab" * 32,
                                                    "inputs": reads}))
    [result] = pub.publish_dirs([folder], store_url, httpserver.url_for("/"),
                                environ={"GITHUB_RUN_ID": "77"})
    assert result.status == "published" and result.catalog, result.error

    puts = [(r, json.loads(r.get_data())) for r, _ in httpserver.log if r.method == "PUT"]
    assert sorted(r.path for r, _ in puts) == [f"/{a}-v1" for a in sorted(MAPPINGS)]
    for request, body in puts:
        alias = request.path[1:-3]
        assert body == {"mappings": MAPPINGS[alias], "aliases": {alias: {"is_write_index": True}}}
        assert request.headers["Accept"] == COMPAT_JSON
    assert MAPPINGS[PACKAGES]["dynamic"] is False
    assert MAPPINGS[RUNS]["properties"]["started"] == {"type": "date"}
    keyword = {"type": "keyword"}
    for alias in (PACKAGES, VERSIONS):
        assert MAPPINGS[alias]["properties"]["inputs"] == {"type": "nested", "properties": {
            "name": keyword, "version": keyword, "resource": keyword, "sha256": keyword}}

    [(bulk_request, _)] = [(r, x) for r, x in httpserver.log if r.path == "/_bulk"]
    assert bulk_request.headers["Content-Type"] == COMPAT_NDJSON
    assert bulk_request.args["refresh"] == "wait_for"
    [lines] = fake.bulks
    version, package, run = lines[1], lines[3], lines[5]
    published_ms = package["published_ms"]
    run_id = f"demo@{run['started'].replace(':', '').replace('-', '')}@77"
    assert lines[0::2] == [
        {"create": {"_index": VERSIONS, "_id": f"demo@{result.version}"}},
        {"index": {"_index": PACKAGES, "_id": "demo", "version": published_ms,
                   "version_type": "external"}},
        {"create": {"_index": RUNS, "_id": run_id}},
    ]
    assert package["version"] == version["version"] == result.version
    assert package["commit"] == "c0ffee" and package["input_hash"] == "ab" * 32
    assert package["inputs"] == version["inputs"] == reads
    assert package["resources"][0]["rows"] == 3
    assert package["resources"][0]["columns"] == [{"name": "a", "type": "integer"},
                                                  {"name": "b", "type": "string"}]
    base = f"{store_url}/demo/versions/{result.version}"
    assert package["notebooks"] == [{"path": "main.ipynb", "url": f"{base}/main.ipynb",
                                     "html_url": f"{base}/main.html"}]
    assert package["store"]["manifest"] == f"{base}/_manifest.json"
    assert run["package"] == "demo" and run["status"] == "published" and run["run_id"] == "77"
    assert run["rows"] == {"tab": 3} and run["bytes"] == result.bytes


def test_rerun_conflicts_are_no_ops(tmp_path: Path, httpserver: HTTPServer) -> None:
    FakeElastic(httpserver, conflicts=True)
    catalog = open_catalog(httpserver.url_for("/"), {})
    catalog.publish({"name": "p", "version": "v", "published_ms": 1}, {"name": "p", "version": "v"},
                    {"package": "p", "started": "2026-01-01T00:00:00.000Z"})


def test_a_rejected_document_is_an_error(httpserver: HTTPServer) -> None:
    for alias in MAPPINGS:
        httpserver.expect_request(f"/_alias/{alias}", method="HEAD").respond_with_response(
            Response(status=200, headers=ES))
    httpserver.expect_request("/_bulk", method="POST").respond_with_response(es_json({
        "took": 1, "errors": True, "items": [{"create": {
            "_index": "dvbuild-runs-v1", "_id": "p@x", "status": 400,
            "error": {"type": "document_parsing_exception", "reason": "failed to parse field [started]"},
        }}]}))
    catalog = open_catalog(httpserver.url_for("/"), {})
    with pytest.raises(ServiceError, match="document_parsing_exception: failed to parse"):
        catalog.record_run({"package": "p", "started": "x"})


def test_search_runs_packages_and_missing_index(httpserver: HTTPServer) -> None:
    hits = {"took": 1, "timed_out": False, "hits": {"total": {"value": 2, "relation": "eq"},
            "hits": [{"_index": "dvbuild-runs-v1", "_id": "a", "_source": {"package": "a", "n": 2}},
                     {"_index": "dvbuild-runs-v1", "_id": "b", "_source": {"package": "a", "n": 1}}]}}
    httpserver.expect_request("/dvbuild-runs/_search", method="POST").respond_with_response(
        es_json(hits))
    httpserver.expect_request("/dvbuild-packages/_search", method="POST").respond_with_response(
        es_json({"error": {"type": "index_not_found_exception", "reason": "no such index"},
                 "status": 404}, status=404))
    catalog = open_catalog(httpserver.url_for("/"), {})
    assert [r["n"] for r in catalog.runs("a")] == [2, 1]
    assert catalog.packages() == []
    [(request, _), _] = httpserver.log
    assert json.loads(request.get_data()) == {
        "size": 1000, "query": {"term": {"package": "a"}}, "sort": [{"started": {"order": "desc"}}]}


def test_not_elasticsearch_and_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/dvbuild-runs/_search").respond_with_json({"hits": {"hits": []}})
    httpserver.expect_request("/dvbuild-packages/_search").respond_with_response(
        es_json({"error": {"type": "security_exception", "reason": "missing authentication"},
                 "status": 401}, status=401))
    catalog = open_catalog(httpserver.url_for("/"), {"DVBUILD_CATALOG_API_KEY": "sekrit-key"})
    assert isinstance(catalog, ElasticCatalog)
    with pytest.raises(ServiceError, match="not Elasticsearch"):
        catalog.runs()
    with pytest.raises(ServiceError, match="refused") as e:
        catalog.packages()
    assert "sekrit-key" not in str(e.value)
    assert httpserver.log[-1][0].headers["Authorization"] == "ApiKey sekrit-key"


def test_unreachable_catalog_fails_the_package_after_the_store(tmp_path: Path) -> None:
    from tests.services.s3 import free_port

    url = f"http://127.0.0.1:{free_port()}"
    [result] = pub.publish_dirs([make_dir(tmp_path / "out")], (tmp_path / "s").as_uri(), url,
                                environ={})
    assert result.status == "failed" and "cannot reach the catalog" in (result.error or "")
    assert result.latest  # the store is complete; a rerun writes the catalog


@pytest.mark.elastic
@pytest.mark.skipif(not os.environ.get("DVBUILD_TEST_ELASTIC_URL"),
                    reason="needs DVBUILD_TEST_ELASTIC_URL")
def test_real_elasticsearch(tmp_path: Path) -> None:
    url = os.environ["DVBUILD_TEST_ELASTIC_URL"]
    name = f"t{uuid.uuid4().hex[:10]}"
    store = (tmp_path / "s").as_uri()
    first = pub.publish_dirs([make_dir(tmp_path / "a", name=name)], store, url, environ={})[0]
    again = pub.publish_dirs([make_dir(tmp_path / "a", name=name)], store, url, environ={})[0]
    assert first.catalog and again.catalog and again.status == "unchanged"
    catalog = open_catalog(url, dict(os.environ))
    [package] = [p for p in catalog.packages() if p["name"] == name]
    assert package["version"] == first.version
    assert [r["status"] for r in catalog.runs(name)] == ["unchanged", "published"]
    catalog.publish({**package, "version": "stale", "published_ms": 1}, package,
                    {"package": name, "started": "2000-01-01T00:00:00.000Z"})
    [package] = [p for p in catalog.packages() if p["name"] == name]
    assert package["version"] == first.version


def test_opensearch_engine_sends_the_same_bulk(httpserver: HTTPServer) -> None:
    fake = FakeElastic(httpserver)
    catalog = open_catalog(httpserver.url_for("/") + "?engine=opensearch",
                           {"DVBUILD_CATALOG_USERNAME": "u", "DVBUILD_CATALOG_PASSWORD": "pw-secret"})
    assert isinstance(catalog, ElasticCatalog) and catalog.opensearch
    run = {"package": "p", "started": "2026-01-01T00:00:00.000Z"}
    catalog.publish({"name": "p", "version": "v", "published_ms": 5}, {"name": "p", "version": "v"},
                    run)
    assert fake.aliases == set(MAPPINGS)
    [lines] = fake.bulks
    assert lines[2] == {"index": {"_index": PACKAGES, "_id": "p", "version": 5,
                                  "version_type": "external"}}
    bulk = [r for r, _ in httpserver.log if r.path == "/_bulk"][0]
    assert bulk.headers["Content-Type"] == "application/x-ndjson"
    assert bulk.authorization is not None and bulk.authorization.password == "pw-secret"
