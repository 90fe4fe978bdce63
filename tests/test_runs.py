"""The run document (`dvbuild-runs`): one constructor, the shapes publish, rollback and run write."""

from __future__ import annotations

from dvbuild.catalogs import run_id
from dvbuild.catalogs.runs import run_document
from dvbuild.publish.catalog import publish_run
from dvbuild.publish.result import PublishResult

TRANSFER = {"files", "uploaded", "bytes", "bytes_uploaded", "latest", "run_id", "error"}
ALWAYS = {"package", "version", "status", "started", "finished", "duration", "commit",
          "input_hash", "rows"}


def test_a_rollback_names_no_transfer() -> None:
    doc = run_document("demo", "1.0.0-abc", "rollback", started="t", finished="t", duration=0.0,
                       commit="c", input_hash=None, bytes=0)
    assert set(doc) == ALWAYS | {"bytes"}
    assert doc["rows"] == {} and run_id(doc) == "demo@t"


def test_a_publish_records_what_it_moved() -> None:
    result = PublishResult("demo", "/d", version="1.0.0-abc", status="published", files=3,
                           uploaded=2, bytes=30, bytes_uploaded=20, seconds=1.5, latest=True)
    manifest = {"commit": "c", "input_hash": "h", "resources": [{"name": "t", "rows": 4}]}
    doc = publish_run(manifest, result, started="2024-01-02T03:04:05Z", run_id="77")
    assert set(doc) == ALWAYS | TRANSFER
    assert (doc["rows"], doc["files"], doc["latest"], doc["duration"]) == ({"t": 4}, 3, True, 1.5)
    assert run_id(doc) == "demo@20240102T030405Z@77"
