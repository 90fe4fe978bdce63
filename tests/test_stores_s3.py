"""The S3 store against real servers: rclone serve s3, and moto for conditional writes."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvbuild import publish as pub
from dvbuild.errors import ServiceError, UsageError
from dvbuild.stores import CACHE_IMMUTABLE, CACHE_NONE, Stat, open_store
from dvbuild.stores.s3 import S3Store
from tests.services.s3 import S3Server, free_port
from tests.test_publish import make_dir


def store_for(server: S3Server, query: str = "") -> tuple[S3Store, str]:
    url = f"s3://{server.bucket()}/team/data" + query
    store = open_store(url, server.environ)
    assert isinstance(store, S3Store)
    return store, url


def many_files(folder: Path, n: int, size: int = 2000) -> Path:
    desc = json.loads((folder / "datapackage.json").read_text())
    (folder / "parts").mkdir()
    for i in range(n):
        (folder / "parts" / f"{i:04d}.csv").write_text("a\n" + f"{i}\n" * (size // len(f"{i}\n")))
        desc["resources"].append({"name": f"p{i}", "path": f"parts/{i:04d}.csv"})
    (folder / "datapackage.json").write_text(json.dumps(desc))
    return folder


def test_publish_to_rclone_twice_uploads_nothing_the_second_time(
        tmp_path: Path, rclone_s3: S3Server) -> None:
    store, url = store_for(rclone_s3)
    folder = make_dir(tmp_path / "out")
    [first] = pub.publish_dirs([folder], url, None, environ=rclone_s3.environ)
    assert first.status == "published" and first.uploaded == 5, first.error
    [second] = pub.publish_dirs([folder], url, None, environ=rclone_s3.environ)
    assert second.status == "unchanged" and second.uploaded == 0 and second.latest
    assert pub.versions(store, "demo") == [first.version]
    latest = pub.latest(store, "demo")
    assert latest is not None and set(latest) == {"version", "manifest_sha256", "published"}
    client = rclone_s3.client()
    head = client.head_object(Bucket=store.bucket,
                              Key=f"team/data/demo/versions/{first.version}/data/tab.csv")
    assert head["ContentType"] == "text/csv" and head["CacheControl"] == CACHE_IMMUTABLE
    sha = hashlib.sha256((folder / "data/tab.csv").read_bytes()).hexdigest()
    assert {k.lower(): v for k, v in head["Metadata"].items()}["sha256"] == sha
    head = client.head_object(Bucket=store.bucket, Key="team/data/demo/latest.json")
    assert head["CacheControl"] == CACHE_NONE and head["ContentType"] == "application/json"
    # the files really are on rclone's disk, under the prefix
    on_disk = rclone_s3.data / store.bucket / "team/data/demo/versions" / first.version
    assert (on_disk / "data/tab.csv").read_bytes() == (folder / "data/tab.csv").read_bytes()


def test_multipart_upload_is_skipped_by_sha256_not_etag(
        tmp_path: Path, moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import dvbuild.stores.s3 as s3mod

    monkeypatch.setattr(s3mod, "MULTIPART_THRESHOLD", 6 * 1024 * 1024)
    monkeypatch.setattr(s3mod, "MULTIPART_CHUNK", 5 * 1024 * 1024)
    store, url = store_for(moto_s3)
    folder = make_dir(tmp_path / "out")
    (folder / "big.bin").write_bytes(b"\x01" * (11 * 1024 * 1024))
    desc = json.loads((folder / "datapackage.json").read_text())
    desc["resources"].append({"name": "big", "path": "big.bin"})
    (folder / "datapackage.json").write_text(json.dumps(desc))
    [first] = pub.publish_dirs([folder], url, None, environ=moto_s3.environ)
    assert first.status == "published", first.error
    key = f"team/data/demo/versions/{first.version}/big.bin"
    head = moto_s3.client().head_object(Bucket=store.bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart ETag: not a content hash
    # an interrupted publish: the manifest is gone, the big file is there
    moto_s3.client().delete_object(Bucket=store.bucket,
                                   Key=f"team/data/demo/versions/{first.version}/_manifest.json")
    [again] = pub.publish_dirs([folder], url, None, environ=moto_s3.environ)
    assert again.status == "published" and again.uploaded == 0 and again.skipped == 6


def test_conditional_writes_on_moto(moto_s3: S3Server) -> None:
    store, _ = store_for(moto_s3)
    assert store.write_if("k", b"1", token=None, content_type="text/plain")
    assert not store.write_if("k", b"2", token=None, content_type="text/plain")
    current = store.read_versioned("k")
    assert current is not None and current.data == b"1"
    assert store.write_if("k", b"3", token=current.token, content_type="text/plain")
    assert not store.write_if("k", b"4", token=current.token, content_type="text/plain")
    assert store.read("k") == b"3" and store.conditional


@pytest.mark.parametrize("kind", ["moto", "rclone"])
def test_concurrent_publishes_of_different_content(tmp_path: Path, kind: str,
                                                  request: pytest.FixtureRequest) -> None:
    server: S3Server = request.getfixturevalue(f"{kind}_s3")
    store, url = store_for(server)
    dirs = [make_dir(tmp_path / f"d{i}", rows=i + 1) for i in range(4)]
    results: list[pub.PublishResult] = []
    threads = [threading.Thread(target=lambda d=d: results.extend(
        pub.publish_dirs([d], url, None, environ=server.environ))) for d in dirs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == ["published"] * 4, [r.error for r in results]
    latest = pub.latest(store, "demo")
    complete = pub.versions(store, "demo")
    assert latest is not None and latest["version"] in complete and len(complete) == 4
    manifest = store.read(f"demo/versions/{latest['version']}/_manifest.json")
    assert manifest is not None
    assert latest["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    if kind == "moto":  # with conditional writes: the publish that started last owns it
        assert pub.manifests(store, "demo")[0]["version"] == latest["version"]


def test_killed_server_leaves_latest_complete_and_rerun_finishes(
        tmp_path: Path, s3_server_factory: Callable[[str], S3Server]) -> None:
    server = s3_server_factory("rclone")
    bucket = server.bucket()
    url = f"s3://{bucket}/p?jobs=1"
    [old] = pub.publish_dirs([make_dir(tmp_path / "old")], url, None, environ=server.environ)
    assert old.status == "published", old.error
    folder = many_files(make_dir(tmp_path / "new", rows=7), 300)
    bundle = pub.collect(folder)
    vdir = server.data / bucket / "p/demo/versions" / bundle.version
    results: list[pub.PublishResult] = []
    worker = threading.Thread(target=lambda: results.extend(
        pub.publish_dirs([folder], url, None, environ=server.environ)))
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_files(vdir)) < 20:
        time.sleep(0.005)
    server.kill()
    worker.join()
    [failed] = results
    assert failed.status == "failed" and "cannot reach" in (failed.error or "")
    there = _files(vdir)
    assert 20 <= len(there) < len(bundle.files) and "_manifest.json" not in there
    latest = json.loads((server.data / bucket / "p/demo/latest.json").read_text())
    assert latest["version"] == old.version

    server.port = free_port()  # a new process over the same folder; its metadata cache is empty
    # (port + 1 was taken by another process once: a free one, as the first start had)
    server.start()
    store = open_store(url, server.environ)
    assert pub.versions(store, "demo") == [old.version]
    [done] = pub.publish_dirs([folder], url, None, environ=server.environ)
    assert done.status == "published" and done.latest, done.error
    assert done.uploaded == len(bundle.files) - len(there)
    assert pub.versions(store, "demo") == [bundle.version, old.version]


def _files(folder: Path) -> set[str]:
    if not folder.exists():
        return set()
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def test_wrong_credentials_write_nothing(tmp_path: Path, rclone_s3: S3Server, cli: Any) -> None:
    bucket = rclone_s3.bucket()
    env = {**rclone_s3.environ, "AWS_SECRET_ACCESS_KEY": "wrong-secret-value"}
    res = cli("publish", make_dir(tmp_path / "out"), "--store", f"s3://{bucket}/x", env=env)
    assert res.code == 1 and "access denied" in res.err and "Traceback" not in res.err
    assert "wrong-secret-value" not in res.err
    assert list((rclone_s3.data / bucket).iterdir()) == []


def test_unreachable_store_is_a_clear_error(tmp_path: Path, cli: Any) -> None:
    from tests.services.s3 import free_port

    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_MAX_ATTEMPTS": "1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    res = cli("publish", make_dir(tmp_path / "out"), "--store", "s3://b/x", env=env)
    assert res.code == 1 and "cannot reach the S3 endpoint" in res.err
    assert "Traceback" not in res.err


def test_missing_bucket_and_bad_options(rclone_s3: S3Server) -> None:
    store = open_store("s3://no-such-bucket/x", rclone_s3.environ)
    with pytest.raises(ServiceError):
        store.write("k", b"x", sha256="0", content_type="text/plain")
    with pytest.raises(UsageError, match="checksum"):
        open_store("s3://b/x?checksum=always", {})
    with pytest.raises(UsageError, match="jobs"):
        open_store("s3://b/x", {"DVBUILD_S3_JOBS": "zero"})
    public = open_store("s3://b/x?public=https://data.example.org/", {})
    assert public.url_for("n/latest.json") == "https://data.example.org/x/n/latest.json"


def test_latest_never_moves_backwards_on_s3(moto_s3: S3Server) -> None:
    store, _ = store_for(moto_s3)
    assert pub.move_latest(store, "p", "1.0.0-aaaaaaaaaaaa", "x", "2026-01-02T00:00:00.000Z")
    assert not pub.move_latest(store, "p", "1.0.0-bbbbbbbbbbbb", "y", "2026-01-01T00:00:00.000Z")
    assert pub.latest(store, "p") == {"version": "1.0.0-aaaaaaaaaaaa", "manifest_sha256": "x",
                                      "published": "2026-01-02T00:00:00.000Z"}


@pytest.mark.parametrize("mode", ["when_required", "when_supported"])
def test_checksum_mode(tmp_path: Path, moto_s3: S3Server, mode: str) -> None:
    store, url = store_for(moto_s3, f"?checksum={mode}")
    config = store.client.meta.config
    assert config.request_checksum_calculation == mode
    assert config.response_checksum_validation == mode
    [result] = pub.publish_dirs([make_dir(tmp_path / "out")], url, None, environ=moto_s3.environ)
    assert result.status == "published", result.error
    env = {**moto_s3.environ, "DVBUILD_S3_CHECKSUM": mode}
    assert open_store("s3://b/x", env).client.meta.config.request_checksum_calculation == mode
    assert open_store("s3://b/x", moto_s3.environ).client.meta.config \
        .request_checksum_calculation == "when_required"


def test_small_files_go_direct_with_headers_and_odd_keys(tmp_path: Path, rclone_s3: S3Server) -> None:
    store, _ = store_for(rclone_s3)
    assert store.direct is not None
    source = tmp_path / "x.csv"
    source.write_bytes(b"a,b\n1,2\n")
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    key = "demo/versions/v/a dir/ø+x=1&y (2).csv"
    store.write(key, source, sha256=sha, content_type="text/csv")
    head = rclone_s3.client().head_object(Bucket=store.bucket, Key="team/data/" + key)
    assert head["ContentType"] == "text/csv" and head["CacheControl"] == CACHE_IMMUTABLE
    assert {k.lower(): v for k, v in head["Metadata"].items()}["sha256"] == sha
    assert store.stat(key) == Stat(8, sha) and store.read(key) == b"a,b\n1,2\n"
    assert store.direct.enabled


def test_direct_signatures_are_checked_and_refusals_fall_back_to_boto3(rclone_s3: S3Server) -> None:
    env = {**rclone_s3.environ, "AWS_SECRET_ACCESS_KEY": "wrong-secret-value"}
    store = open_store(f"s3://{rclone_s3.bucket()}/x", env)
    assert isinstance(store, S3Store) and store.direct is not None
    assert not store.direct.put(store.bucket, "x/k", b"1", "", {"Content-Type": "text/plain"})
    with pytest.raises(ServiceError, match="access denied"):  # boto3's answer, mapped
        store.write("k", b"1", sha256="", content_type="text/plain")
    assert store.direct.enabled  # the server answered: only connection trouble turns it off
    good, _ = store_for(rclone_s3)
    assert good.direct is not None
    assert good.direct.put(good.bucket, "team/data/k", b"1", "", {"Content-Type": "text/plain"})


@pytest.mark.parametrize("extra", [{"DVBUILD_S3_DIRECT": "0"}, {"DVBUILD_S3_CHECKSUM": "when_supported"},
                                   {"HTTPS_PROXY": "http://proxy:3128"}, {"AWS_ENDPOINT_URL": ""}])
def test_direct_path_only_where_it_is_safe(extra: dict[str, str]) -> None:
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-north-1",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9", **extra}
    store = open_store("s3://b/x", env)
    assert isinstance(store, S3Store) and store.direct is None
    plain = open_store("s3://b/x", {**env, **{k: "" for k in extra},
                                    "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert isinstance(plain, S3Store) and plain.direct is not None
