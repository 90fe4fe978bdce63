"""The Elasticsearch/OpenSearch catalog: the only module importing elasticsearch/opensearch.

Both engines are driven through the same few REST calls (create index with
alias and mapping, _bulk, _search), sent through the official client's
low-level `perform_request` so retries, TLS and auth are the client's, while
the request bodies are exactly the ones below. Elasticsearch requests ask for
`compatible-with=8`, which Elasticsearch 8 and 9 both accept.

URL: `http(s)://[user:pass@]host:port[?engine=opensearch]`. Auth from the
environ: DVBUILD_CATALOG_API_KEY, or DVBUILD_CATALOG_USERNAME and
DVBUILD_CATALOG_PASSWORD. DVBUILD_CATALOG_ENGINE=opensearch also selects OpenSearch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit, urlunsplit

from dvbuild import console
from dvbuild.catalogs import PACKAGES, RUNS, VERSIONS, run_id
from dvbuild.errors import MissingDependency, ServiceError, UsageError

if TYPE_CHECKING:
    from dvbuild.catalogs.runs import RunDocument

COMPAT = "application/vnd.elasticsearch+{}; compatible-with=8"
KEYWORD = {"type": "keyword"}
LINK = {"type": "keyword", "index": False}
TEXT = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
LIST_SIZE = 1000

_PACKAGE = {
    "dynamic": False,
    "properties": {
        "name": KEYWORD, "version": KEYWORD, "semver": KEYWORD, "title": TEXT,
        "description": {"type": "text"}, "keywords": KEYWORD, "team": KEYWORD,
        "schedule": KEYWORD, "timezone": KEYWORD, "commit": KEYWORD, "input_hash": KEYWORD,
        "bytes": {"type": "long"}, "published": {"type": "date"},
        "published_ms": {"type": "long"}, "created": {"type": "date"},
        "resources": {"properties": {
            "name": KEYWORD, "path": KEYWORD, "format": KEYWORD, "mediatype": KEYWORD,
            "bytes": {"type": "long"}, "rows": {"type": "long"}, "sha256": KEYWORD, "url": LINK,
            "columns": {"properties": {"name": KEYWORD, "type": KEYWORD}},
        }},
        "notebooks": {"properties": {"path": KEYWORD, "url": LINK, "html_url": LINK}},
        "store": {"properties": {"version": LINK, "manifest": LINK, "latest": LINK}},
        # nested: "who read befolkning@1.1.0-…" must match name and version of one read
        "inputs": {"type": "nested", "properties": {
            "name": KEYWORD, "version": KEYWORD, "resource": KEYWORD, "sha256": KEYWORD}},
    },
}
_RUN = {
    "dynamic": False,
    "properties": {
        "package": KEYWORD, "version": KEYWORD, "status": KEYWORD, "commit": KEYWORD,
        "input_hash": KEYWORD, "started": {"type": "date"}, "finished": {"type": "date"},
        "duration": {"type": "float"}, "files": {"type": "integer"},
        "uploaded": {"type": "integer"}, "bytes": {"type": "long"},
        "bytes_uploaded": {"type": "long"}, "latest": {"type": "boolean"},
        "rows": {"type": "object", "enabled": False}, "run_id": KEYWORD,
        "error": {"type": "text"},
    },
}
MAPPINGS: dict[str, dict[str, Any]] = {PACKAGES: _PACKAGE, VERSIONS: _PACKAGE, RUNS: _RUN}


class ElasticCatalog:
    def __init__(self, url: str, client: Any, *, opensearch: bool = False) -> None:
        self.url = url
        self.client = client
        self.opensearch = opensearch
        self._ready = False

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str]) -> ElasticCatalog:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        engine = query.get("engine") or environ.get("DVBUILD_CATALOG_ENGINE") or "elasticsearch"
        if engine not in ("elasticsearch", "opensearch"):
            raise UsageError(f"catalog engine {engine!r}", hint="elasticsearch or opensearch")
        user = parts.username or environ.get("DVBUILD_CATALOG_USERNAME")
        password = parts.password or environ.get("DVBUILD_CATALOG_PASSWORD")
        api_key = environ.get("DVBUILD_CATALOG_API_KEY")
        for secret in (password, api_key):
            console.mask(secret or "")
        host = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else "")
                           if parts.hostname else "", parts.path, "", ""))
        auth = {"api_key": api_key} if api_key else (
            {"basic_auth": (user, password or "")} if user else {})
        client = _opensearch(host, auth) if engine == "opensearch" else _elastic(host, auth)
        return cls(host, client, opensearch=engine == "opensearch")

    # -- the catalog interface -------------------------------------------------------

    def publish(self, package: Mapping[str, Any], version: Mapping[str, Any],
                run: RunDocument) -> None:
        self._bulk([
            ({"create": {"_index": VERSIONS, "_id": f"{version['name']}@{version['version']}"}},
             version),
            ({"index": {"_index": PACKAGES, "_id": package["name"],
                        "version": int(package["published_ms"]), "version_type": "external"}},
             package),
            ({"create": {"_index": RUNS, "_id": run_id(run)}}, run),
        ])

    def record_run(self, run: RunDocument) -> None:
        self._bulk([({"create": {"_index": RUNS, "_id": run_id(run)}}, run)])

    def runs(self, name: str | None = None) -> list[RunDocument]:
        query = {"term": {"package": name}} if name else {"match_all": {}}
        return cast("list[RunDocument]", self._search(RUNS, query, [{"started": {"order": "desc"}}]))

    def packages(self) -> list[dict[str, Any]]:
        return self._search(PACKAGES, {"match_all": {}}, [{"name": {"order": "asc"}}])

    def versions(self, name: str) -> list[dict[str, Any]]:
        return self._search(VERSIONS, {"term": {"name": name}}, [{"published": {"order": "desc"}}])

    # -- REST --------------------------------------------------------------------------

    def ensure_indices(self) -> None:
        """Create `<alias>-v1` with its mapping behind each alias, once per process."""
        if self._ready:
            return
        for alias, mapping in MAPPINGS.items():
            status, _ = self._call("HEAD", f"/_alias/{alias}", ok=(404,))
            if status == 404:
                body = {"mappings": mapping, "aliases": {alias: {"is_write_index": True}}}
                status, answer = self._call("PUT", f"/{alias}-v1", body, ok=(400,))
                if status == 400 and "already_exists" not in json.dumps(answer):
                    raise ServiceError(f"{self.url}: cannot create index {alias}-v1: {answer}")
        self._ready = True

    def _bulk(self, actions: list[tuple[dict[str, Any], Mapping[str, Any]]]) -> None:
        self.ensure_indices()
        lines = []
        for action, doc in actions:
            lines.append(json.dumps(action, separators=(",", ":")))
            lines.append(json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str))
        body = ("\n".join(lines) + "\n").encode()
        _, answer = self._call("POST", "/_bulk", body, params={"refresh": "wait_for"},
                               ndjson=True)
        failures = [item for entry in answer.get("items", []) for item in entry.values()
                    if item.get("status", 200) >= 300 and item.get("status") != 409]
        if failures:
            error = failures[0].get("error", {})
            raise ServiceError(f"{self.url}: catalog write failed for {failures[0].get('_id')}: "
                               f"{error.get('type')}: {error.get('reason')}")

    def _search(self, alias: str, query: Mapping[str, Any],
                sort: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = {"size": LIST_SIZE, "query": query, "sort": sort}
        status, answer = self._call("POST", f"/{alias}/_search", body, ok=(404,))
        if status == 404:
            return []
        return [hit["_source"] for hit in answer.get("hits", {}).get("hits", [])]

    def _call(self, method: str, path: str, body: Any = None, *,
              params: Mapping[str, str] | None = None, ndjson: bool = False,
              ok: tuple[int, ...] = ()) -> tuple[int, dict[str, Any]]:
        """One request; returns (status, JSON answer). Statuses in `ok` are not errors."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        try:
            if self.opensearch:
                return self._call_opensearch(method, path, data, params, ndjson)
            return self._call_elastic(method, path, data, params, ndjson)
        except Exception as e:
            status = _status(e)
            if status in ok:
                return status, _body(e)
            raise _service_error(self.url, method, path, e, status) from None

    def _call_elastic(self, method: str, path: str, data: bytes | None,
                      params: Mapping[str, str] | None, ndjson: bool) -> tuple[int, dict[str, Any]]:
        headers = {"accept": COMPAT.format("json")}
        if data is not None:
            headers["content-type"] = COMPAT.format("x-ndjson" if ndjson else "json")
        answer = self.client.perform_request(method, path, params=params, headers=headers,
                                             body=data)
        status = answer.meta.status
        return status, answer.body if isinstance(answer.body, dict) else {}

    def _call_opensearch(self, method: str, path: str, data: bytes | None,
                         params: Mapping[str, str] | None,
                         ndjson: bool) -> tuple[int, dict[str, Any]]:
        headers = {"content-type": "application/x-ndjson" if ndjson else "application/json"}
        answer = self.client.transport.perform_request(
            method, path, params=params, headers=headers,
            body=data.decode() if data is not None else None)
        if method == "HEAD":
            return (200 if answer else 404), {}
        return 200, answer if isinstance(answer, dict) else {}


def _status(e: Exception) -> int:
    meta = getattr(e, "meta", None)
    if meta is not None and hasattr(meta, "status"):
        return int(meta.status)
    code = getattr(e, "status_code", None)
    return code if isinstance(code, int) else 0


def _body(e: Exception) -> dict[str, Any]:
    body = getattr(e, "body", None) or getattr(e, "info", None)
    return body if isinstance(body, dict) else {}


def _service_error(url: str, method: str, path: str, e: Exception, status: int) -> ServiceError:
    name = type(e).__name__
    if status in (401, 403):
        return ServiceError(f"{url}: the catalog refused {method} {path} ({status})",
                            hint="check DVBUILD_CATALOG_API_KEY or DVBUILD_CATALOG_USERNAME/"
                                 "DVBUILD_CATALOG_PASSWORD")
    if name == "UnsupportedProductError":
        return ServiceError(f"{url}: the server is not Elasticsearch",
                            hint="for OpenSearch add ?engine=opensearch to the catalog URL")
    if status == 0:
        return ServiceError(f"{url}: cannot reach the catalog ({name}: {e})",
                            hint="check the catalog URL; the store is already published, "
                                 "run again to write the catalog")
    return ServiceError(f"{url}: {method} {path} failed ({status}): {_body(e) or e}")


def _elastic(host: str, auth: Mapping[str, Any]) -> Any:
    try:
        from elasticsearch import Elasticsearch
    except ImportError:
        raise MissingDependency("elasticsearch", "elastic") from None
    return Elasticsearch(host, request_timeout=30, max_retries=3, retry_on_timeout=True, **auth)


def _opensearch(host: str, auth: Mapping[str, Any]) -> Any:
    try:
        from opensearchpy import OpenSearch
    except ImportError:
        raise MissingDependency("opensearch-py", "elastic") from None
    extra: dict[str, Any] = {}
    if "basic_auth" in auth:
        extra["http_auth"] = auth["basic_auth"]
    elif "api_key" in auth:
        extra["headers"] = {"authorization": f"ApiKey {auth['api_key']}"}
    return OpenSearch([host], timeout=30, max_retries=3, retry_on_timeout=True, **extra)
