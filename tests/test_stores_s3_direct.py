"""The direct PUT path: its SigV4 signature against botocore's, and its fallbacks to boto3."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pytest_httpserver import HTTPServer

from dvbuild.errors import ServiceError
from dvbuild.stores import open_store, s3_direct
from dvbuild.stores.s3 import S3Store
from dvbuild.stores.s3_direct import DirectPut

WHEN = datetime(2026, 11, 26, 1, 2, 3, tzinfo=UTC)


class Frozen:
    @staticmethod
    def now(tz: Any = None) -> datetime:
        return WHEN


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize(("endpoint", "key"), [
    ("http://127.0.0.1:9000", "team/data/demo/versions/1.0.0-abc/data/tab.csv"),
    ("https://s3.example.org/prefix/", "a dir/ø+x=1&y (2).csv"),
])
def test_signature_matches_botocore(monkeypatch: pytest.MonkeyPatch, token: str | None,
                                    endpoint: str, key: str) -> None:
    monkeypatch.setattr(s3_direct, "datetime", Frozen)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: WHEN.replace(tzinfo=None))
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    direct = DirectPut(creds, "eu-north-1", endpoint)
    body = b"a,b\n1,2\n"
    sha = hashlib.sha256(body).hexdigest()
    headers = {"Content-Type": "text/csv", "Cache-Control": "public,  max-age=1",
               "x-amz-meta-sha256": sha}
    path = direct.root + "/bucket/" + quote(key, safe="/~")
    ours = direct.sign("PUT", path, sha, headers)

    request = AWSRequest("PUT", endpoint.rstrip("/") + path.removeprefix(direct.root), data=body,
                         headers={**headers, "Host": direct.host})
    S3SigV4Auth(creds, "s3", "eu-north-1").add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"] == "20261126T010203Z"
    assert ours.get("x-amz-security-token") == token


def _store(endpoint: str) -> S3Store:
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_MAX_ATTEMPTS": "1",
           "AWS_ENDPOINT_URL": endpoint}
    store = open_store("s3://b/p", env)
    assert isinstance(store, S3Store) and store.direct is not None
    return store


def test_an_error_answer_is_repeated_through_boto3(httpserver: HTTPServer) -> None:
    # What rclone sometimes answers under load: the same PUT then goes through boto3.
    store = _store(httpserver.url_for("/"))
    httpserver.expect_ordered_request("/b/p/k", method="PUT").respond_with_data(
        "<Error><Code>InternalError</Code></Error>", status=500)
    httpserver.expect_ordered_request("/b/p/k", method="PUT").respond_with_data("", status=200)
    store.write("k", b"x", sha256="", content_type="text/plain")
    (direct, _), (boto, _) = httpserver.log
    assert "botocore" not in direct.headers.get("User-Agent", "").lower()
    assert "botocore" in boto.headers["User-Agent"].lower()
    assert direct.headers["x-amz-meta-sha256"] == "" and direct.data == b"x"
    assert store.direct is not None and store.direct.enabled


def test_a_file_changed_after_hashing_is_an_error(httpserver: HTTPServer) -> None:
    store = _store(httpserver.url_for("/"))
    httpserver.expect_request("/b/p/k", method="PUT").respond_with_data(
        "<Error><Code>XAmzContentSHA256Mismatch</Code></Error>", status=400)
    with pytest.raises(ServiceError, match="changed while it was being published"):
        store.write("k", b"x", sha256="0" * 64, content_type="text/plain")


def test_connection_failures_turn_the_direct_path_off() -> None:
    from tests.services.s3 import free_port

    store = _store(f"http://127.0.0.1:{free_port()}")
    assert store.direct is not None
    for _ in range(s3_direct.MAX_FAILURES):
        with pytest.raises(ServiceError, match="cannot reach"):  # boto3's message
            store.write("k", b"x", sha256="", content_type="text/plain")
    assert not store.direct.enabled
