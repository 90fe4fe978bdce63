"""The direct PUT path: signed by botocore as boto3 signs the same PUT, and its fallbacks to boto3."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pytest_httpserver import HTTPServer
from werkzeug import Request

from dvbuild.errors import ServiceError
from dvbuild.stores import open_store, s3_direct
from dvbuild.stores.s3 import S3Store
from dvbuild.stores.s3_direct import DirectPut

WHEN = datetime(2026, 11, 26, 1, 2, 3)
ODD_KEY = "a dir/ø+x=1&y (2).csv"


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize(("endpoint", "key"), [
    ("http://127.0.0.1:9000", "team/data/demo/versions/1.0.0-abc/data/tab.csv"),
    ("https://s3.example.org/prefix/", ODD_KEY),
])
def test_the_given_payload_hash_signs_as_botocore_hashing_the_body(
        monkeypatch: pytest.MonkeyPatch, token: str | None, endpoint: str, key: str) -> None:
    # The signer is told publish's sha256 instead of hashing the bytes again: the same
    # signature as botocore's own, over the endpoint's path prefix and a percent-encoded key.
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: WHEN)
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    direct = DirectPut(creds, "eu-north-1", endpoint)
    body = b"a,b\n1,2\n"
    sha = hashlib.sha256(body).hexdigest()
    headers = {"Content-Type": "text/csv", "Cache-Control": "public,  max-age=1",
               "x-amz-meta-sha256": sha}
    path = direct.root + "/bucket/" + quote(key, safe="/~")
    ours = direct.sign("PUT", path, body, sha, headers)

    request = AWSRequest("PUT", endpoint.rstrip("/") + path.removeprefix(direct.root), data=body,
                         headers={**headers, "Host": direct.host})
    S3SigV4Auth(creds, "s3", "eu-north-1").add_auth(request)
    assert ours == dict(request.headers.items())
    assert ours["X-Amz-Date"] == "20261126T010203Z" and ours["X-Amz-Content-SHA256"] == sha
    assert ours.get("X-Amz-Security-Token") == token
    assert direct.sign("PUT", path, body, None, headers) == ours  # no hash given: botocore's
    # A file that changed after hashing is signed as what was hashed: the server refuses it.
    other = direct.sign("PUT", path, body, "0" * 64, headers)
    assert other["X-Amz-Content-SHA256"] == "0" * 64
    assert other["Authorization"] != ours["Authorization"]


def _verify(request: Request, origin: str, token: str | None,
            monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Check a received request's SigV4 signature as a server would; its signed headers."""
    auth = request.headers["Authorization"]
    names = re.search(r"SignedHeaders=([^,]+)", auth)
    assert names is not None
    signed = {n: request.headers[n] for n in names[1].split(";")}
    when = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: when)
    again = AWSRequest("PUT", origin + request.environ["RAW_URI"],  # as it came, %-encoded
                       data=request.get_data(), headers=signed)
    S3SigV4Auth(Credentials("k", "s", token), "s3", "eu-north-1").add_auth(again)
    assert again.headers["Authorization"] == auth
    return signed


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize(("prefix", "key"), [("/", "k"), ("/under/a/path/", ODD_KEY)])
def test_the_direct_put_is_the_put_boto3_sends(httpserver: HTTPServer,
                                               monkeypatch: pytest.MonkeyPatch,
                                               token: str | None, prefix: str, key: str) -> None:
    # The same PUT twice: direct (answered 500), then repeated through the boto3 client.
    # Both signatures check out, over the same path, payload hash and headers.
    endpoint = httpserver.url_for(prefix)
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_MAX_ATTEMPTS": "1",
           "AWS_REGION": "eu-north-1", "AWS_ENDPOINT_URL": endpoint,
           **({"AWS_SESSION_TOKEN": token} if token else {})}
    store = open_store("s3://b/p", env)
    assert isinstance(store, S3Store) and store.direct is not None
    anything = re.compile(".*")
    httpserver.expect_ordered_request(anything, method="PUT").respond_with_data("", status=500)
    httpserver.expect_ordered_request(anything, method="PUT").respond_with_data("", status=200)
    body = b"a,b\n1,2\n"
    sha = hashlib.sha256(body).hexdigest()
    store.write(key, body, sha256=sha, content_type="text/csv")
    (direct, _), (boto, _) = httpserver.log
    assert "botocore" not in direct.headers.get("User-Agent", "").lower()
    assert "botocore" in boto.headers["User-Agent"].lower()
    origin = httpserver.url_for("/").rstrip("/")
    ours = _verify(direct, origin, token, monkeypatch)
    theirs = _verify(boto, origin, token, monkeypatch)
    assert direct.environ["RAW_URI"] == boto.environ["RAW_URI"] \
        == prefix + "b/p/" + quote(key, safe="/~")
    assert direct.get_data() == boto.get_data() == body
    for name in ("Content-Type", "Cache-Control", "x-amz-meta-sha256", "X-Amz-Security-Token",
                 "Content-Length"):
        assert direct.headers.get(name) == boto.headers.get(name), name
    assert direct.headers["X-Amz-Content-SHA256"] == boto.headers["X-Amz-Content-SHA256"] == sha
    # boto3 signs its own extra headers too (amz-sdk-*); ours are a subset of its.
    assert set(ours) <= set(theirs) | {"content-length"}, set(ours) - set(theirs)
    assert direct.headers["Authorization"].split("/")[1:4] \
        == boto.headers["Authorization"].split("/")[1:4]  # date, region, service scope


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
