"""Small-object PUTs to an S3-compatible endpoint, signed by botocore and sent with http.client.

Why: on a 2-core runner the boto3 client's per-request machinery (event hooks,
parameter validation, serialisation, payload re-hashing, urllib3) costs ~2 ms of
CPU per object under the GIL, more than the network. Here only botocore's own
SigV4 signer (`S3SigV4Auth` on an `AWSRequest`, ~0.1 ms) is used, and the PUT is
sent with http.client on kept-alive connections. The payload hash given to the
signer is the sha256 publish already computed, not a re-hash of the bytes read
now: a file that changed after hashing is refused by the server.

This is a fast path only. Any answer but 200, or any connection trouble, returns
False and the caller repeats the PUT through the boto3 client, which retries and
turns errors into messages; after a few connection errors the fast path stays off.
"""

from __future__ import annotations

import functools
import http.client
import queue
import re
import ssl
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from dvbuild.errors import ServiceError

HEX64 = re.compile(r"^[0-9a-f]{64}$")
CHANGED = ("XAmzContentSHA256Mismatch", "BadDigest")
MAX_FAILURES = 3
TIMEOUT = 120  # seconds, as botocore's read timeout in the S3 store
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")
PAYLOAD = "dvbuild_payload_sha256"  # AWSRequest.context: the sha256 the signer is to use


class DirectPut:
    def __init__(self, credentials: Any, region: str, endpoint: str, *,
                 ca_bundle: str | None = None) -> None:
        self.ca_bundle = ca_bundle  # AWS_CA_BUNDLE, as botocore would use it
        self.credentials = credentials  # botocore Credentials: refreshable ones stay fresh
        self.region = region
        parts = urlsplit(endpoint)
        self.https = parts.scheme == "https"
        self.host = parts.netloc
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.root = parts.path.rstrip("/")
        self.enabled = True
        self.failures = 0
        # Idle keep-alive connections, shared by the upload threads.
        self._idle: queue.SimpleQueue[http.client.HTTPConnection] = queue.SimpleQueue()
        weakref.finalize(self, _close_all, self._idle)

    @classmethod
    def for_client(cls, session: Any, client: Any, environ: Mapping[str, str], *,
                   endpoint: str | None, checksum: str) -> DirectPut | None:
        """Only for an explicit endpoint (path-style), no checksums asked for, no proxy."""
        if not endpoint or checksum != "when_required" or environ.get("DVBUILD_S3_DIRECT") == "0" \
                or any(environ.get(p) for p in PROXIES) or not endpoint.startswith(("http:", "https:")):
            return None
        credentials = session.get_credentials()
        if credentials is None:
            return None
        return cls(credentials, client.meta.region_name or "us-east-1", endpoint,
                   ca_bundle=environ.get("AWS_CA_BUNDLE") or None)

    def put(self, bucket: str, key: str, body: bytes, sha256: str,
            headers: Mapping[str, str]) -> bool:
        """True when stored; False to let boto3 do it; ServiceError if the file changed."""
        if not self.enabled:
            return False
        path = self.root + "/" + quote(bucket, safe="") + "/" + quote(key, safe="/~")
        signed = self.sign("PUT", path, body, sha256 if HEX64.match(sha256) else None, headers)
        signed["Content-Length"] = str(len(body))
        answer = self._send(path, body, signed)
        if answer is None:
            return False
        status, text = answer
        if status == 200:
            return True
        if any(f"<Code>{code}</Code>" in text for code in CHANGED):
            raise ServiceError(f"{key}: the file changed while it was being published",
                               hint="run again once whatever writes it has finished")
        return False

    def _send(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, body) of the PUT, or None after connection trouble."""
        try:
            conn, fresh = self._idle.get_nowait(), False
        except queue.Empty:
            conn, fresh = self._connect(), True
        while True:
            try:
                conn.request("PUT", path, body=body, headers=headers)
                response = conn.getresponse()
                text = response.read().decode(errors="replace")
            except (OSError, http.client.HTTPException):
                conn.close()
                if not fresh:  # the server closed an idle keep-alive socket: try a new one
                    conn, fresh = self._connect(), True
                    continue
                # A dead or odd endpoint keeps failing: leave it to boto3 from then on.
                self.failures += 1
                self.enabled = self.failures < MAX_FAILURES
                return None
            if response.will_close:
                conn.close()
            else:
                self._idle.put(conn)
            return response.status, text

    def _connect(self) -> http.client.HTTPConnection:
        if self.https:
            context = ssl.create_default_context(cafile=self.ca_bundle)
            return http.client.HTTPSConnection(self.host, timeout=TIMEOUT, context=context)
        return http.client.HTTPConnection(self.host, timeout=TIMEOUT)

    def sign(self, method: str, path: str, body: bytes, sha256: str | None,
             headers: Mapping[str, str]) -> dict[str, str]:
        """The request's headers, signed by botocore's S3SigV4Auth (with our own Host header:
        exactly the one signed). `sha256` is the payload hash to sign; None to hash `body`."""
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method, self.origin + path, data=body,
                             headers={**headers, "Host": self.host})
        if sha256:
            request.context[PAYLOAD] = sha256
        # Frozen: a refreshable credential cannot change between the key and the secret.
        _signer()(self.credentials.get_frozen_credentials(), "s3", self.region).add_auth(request)
        return dict(request.headers.items())


@functools.cache
def _signer() -> Any:
    """botocore's S3SigV4Auth, told the payload hash instead of hashing the body again."""
    from botocore.auth import S3SigV4Auth

    class Signer(S3SigV4Auth):  # type: ignore[misc]  # botocore is untyped
        def payload(self, request: Any) -> str:
            given = request.context.get(PAYLOAD)
            return str(given) if given else str(super().payload(request))

    return Signer


def _close_all(idle: queue.SimpleQueue[http.client.HTTPConnection]) -> None:
    while not idle.empty():
        idle.get_nowait().close()
