"""The direct PUT path's SigV4 signature, checked against botocore's own signer."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dvbuild.stores import s3_direct
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
