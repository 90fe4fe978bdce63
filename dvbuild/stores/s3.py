"""The S3 store (`s3://bucket/prefix`), the only module that imports boto3 for stores.

Credentials, region and endpoint come from the standard AWS chain; the
variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE,
AWS_REGION, AWS_ENDPOINT_URL(_S3), AWS_RETRY_MODE and AWS_MAX_ATTEMPTS are read
from the environ dvbuild is given. Options, as URL query or environment:

    checksum=when_required|when_supported   DVBUILD_S3_CHECKSUM (default when_required:
                                            S3-compatible servers reject the newer default)
    jobs=N                                  DVBUILD_S3_JOBS (parallel uploads, default 16)
    public=https://host/path                DVBUILD_S3_PUBLIC_URL (links in the catalog)

Every object carries its sha256 as metadata (`x-amz-meta-sha256`); an object
whose metadata was lost is hashed by reading it back, never by its ETag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dvbuild import console
from dvbuild.errors import MissingDependency, ServiceError, UsageError
from dvbuild.stores import CACHE_IMMUTABLE, CACHE_NONE, Stat, Versioned
from dvbuild.stores.s3_direct import DirectPut

MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024
MULTIPART_CONCURRENCY = 4
CHECKSUM_MODES = ("when_required", "when_supported")
NOT_FOUND = ("404", "NoSuchKey", "NotFound")
CONFLICT = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
DENIED = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403",
          "InvalidToken", "ExpiredToken")


class S3Store:
    def __init__(self, client: Any, bucket: str, prefix: str, *, jobs: int = 16,
                 public: str | None = None, endpoint: str | None = None,
                 direct: DirectPut | None = None) -> None:
        self.client = client
        self.direct = direct  # the fast path for small PUTs, when the endpoint allows it
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.concurrency = jobs
        self.public = public.rstrip("/") if public else None
        self.endpoint = endpoint or "AWS"
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.conditional = True  # cleared when the server answers NotImplemented

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str]) -> S3Store:
        parts = urlsplit(url)
        if not parts.netloc:
            raise UsageError(f"store URL {url!r} names no bucket", hint="s3://bucket/prefix")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        checksum = query.get("checksum") or environ.get("DVBUILD_S3_CHECKSUM") or "when_required"
        if checksum not in CHECKSUM_MODES:
            raise UsageError(f"S3 checksum mode {checksum!r} is not one of {CHECKSUM_MODES}",
                             hint="set DVBUILD_S3_CHECKSUM or ?checksum= to when_required")
        jobs = _int(query.get("jobs") or environ.get("DVBUILD_S3_JOBS") or "16", "jobs")
        endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or None
        session = _session(environ, endpoint=endpoint)
        client = _client(session, environ, endpoint=endpoint, checksum=checksum, jobs=jobs)
        direct = DirectPut.for_client(session, client, environ, endpoint=endpoint, checksum=checksum)
        public = query.get("public") or environ.get("DVBUILD_S3_PUBLIC_URL")
        return cls(client, parts.netloc, parts.path, jobs=jobs, public=public, endpoint=endpoint,
                   direct=direct)

    # -- reading -------------------------------------------------------------------

    def read(self, key: str) -> bytes | None:
        found = self.read_versioned(key)
        return found.data if found else None

    def read_versioned(self, key: str) -> Versioned | None:
        with self._errors("read", key):
            obj = self._unless_missing(self.client.get_object, key)
            return Versioned(obj["Body"].read(), obj["ETag"]) if obj is not None else None

    def stat(self, key: str) -> Stat | None:
        with self._errors("stat", key):
            head = self._unless_missing(self.client.head_object, key)
        if head is None:
            return None
        meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        return Stat(int(head["ContentLength"]), meta.get("sha256"))

    def sha256(self, key: str) -> str | None:
        """Hash an object by reading it (for objects whose metadata was lost)."""
        with self._errors("read", key):
            obj = self._unless_missing(self.client.get_object, key)
            if obj is None:
                return None
            digest = hashlib.sha256()
            for chunk in obj["Body"].iter_chunks(1024 * 1024):
                digest.update(chunk)
            return digest.hexdigest()

    def _unless_missing(self, call: Callable[..., Any], key: str) -> Any:
        """The call's answer for this key, or None when the key does not exist."""
        try:
            return call(Bucket=self.bucket, Key=self.prefix + key)
        except Exception as e:
            if _code(e) in NOT_FOUND:
                return None
            raise

    def keys(self, prefix: str) -> Iterator[str]:
        with self._errors("list", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix)
            keys = [o["Key"][len(self.prefix):] for page in pages for o in page.get("Contents", [])]
        yield from sorted(keys)

    def url_for(self, key: str) -> str:
        if self.public:
            return f"{self.public}/{self.prefix}{key}"
        return f"s3://{self.bucket}/{self.prefix}{key}"

    # -- writing -------------------------------------------------------------------

    def write(self, key: str, source: Path | bytes, *, sha256: str, content_type: str,
              cache_control: str = CACHE_IMMUTABLE) -> None:
        extra = {"Metadata": {"sha256": sha256}, "ContentType": content_type,
                 "CacheControl": cache_control}
        with self._errors("write", key):
            if isinstance(source, Path) and source.stat().st_size >= MULTIPART_THRESHOLD:
                self.client.upload_file(str(source), self.bucket, self.prefix + key,
                                        ExtraArgs=extra, Config=_transfer_config())
                return
            body = source if isinstance(source, bytes) else source.read_bytes()
            if self.direct and self.direct.put(self.bucket, self.prefix + key, body, sha256, {
                    "Content-Type": content_type, "Cache-Control": cache_control,
                    "x-amz-meta-sha256": sha256}):
                return
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body, **extra)

    def write_if(self, key: str, data: bytes, *, token: str | None, content_type: str,
                 cache_control: str = CACHE_NONE) -> bool:
        args = {"Bucket": self.bucket, "Key": self.prefix + key, "Body": data,
                "ContentType": content_type, "CacheControl": cache_control,
                "Metadata": {"sha256": hashlib.sha256(data).hexdigest()}}
        if self.conditional:
            args.update({"IfNoneMatch": "*"} if token is None else {"IfMatch": token})
        with self._errors("write", key):
            try:
                self.client.put_object(**args)
            except Exception as e:
                code = _code(e)
                if code in CONFLICT:
                    return False
                if code not in ("NotImplemented", "501") or not self.conditional:
                    raise
                # A server without conditional writes: fall back to read-compare-write.
                self.conditional = False
                return self.write_if(key, data, token=token, content_type=content_type,
                                     cache_control=cache_control)
        return True

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """botocore's exceptions → one ServiceError line naming the object and a hint."""
        import botocore.exceptions as bx
        from boto3.exceptions import S3UploadFailedError

        where = f"{self.url}/{key}"
        try:
            yield
        except (bx.NoCredentialsError, bx.PartialCredentialsError) as e:
            raise ServiceError(f"{where}: no usable S3 credentials ({e})",
                               hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                                    "AWS_PROFILE, or a web identity") from None
        except (bx.EndpointConnectionError, bx.ConnectionError, bx.HTTPClientError) as e:
            raise ServiceError(f"{where}: cannot reach the S3 endpoint {self.endpoint} ({e})",
                               hint="check AWS_ENDPOINT_URL and that the store is up; "
                                    "run again to finish an interrupted publish") from None
        except (bx.ClientError, S3UploadFailedError) as e:
            raise _client_error(e, action, where) from None


def _client_error(e: Exception, action: str, where: str) -> ServiceError:
    code = _code(e)
    message = str(e)
    if code in DENIED:
        return ServiceError(f"{where}: access denied ({code})",
                            hint="check the S3 credentials (AWS_ACCESS_KEY_ID/"
                                 "AWS_SECRET_ACCESS_KEY) and the bucket policy")
    if code == "NoSuchBucket":
        return ServiceError(f"{where}: the bucket does not exist",
                            hint="create it, or fix the bucket name in --store")
    return ServiceError(f"{where}: S3 {action} failed: {message}")


def _code(e: Exception) -> str:
    response = getattr(e, "response", None)
    if response is None and e.__context__ is not None:
        response = getattr(e.__context__, "response", None)
    if not isinstance(response, dict):
        return ""
    code = str(response.get("Error", {}).get("Code", ""))
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code if code and code != status else status or code


def _int(value: str, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise UsageError(f"S3 {what} is {value!r}", hint="a whole number, 1 or more")
    return number


def _session(environ: Mapping[str, str], *, endpoint: str | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise MissingDependency("boto3", "s3") from None

    for secret in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        console.mask(environ.get(secret, ""))
    keys: dict[str, Any] = {}
    if environ.get("AWS_ACCESS_KEY_ID"):
        keys = {"aws_access_key_id": environ["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY"),
                "aws_session_token": environ.get("AWS_SESSION_TOKEN") or None}
    elif environ.get("AWS_PROFILE"):
        keys = {"profile_name": environ["AWS_PROFILE"]}
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    return boto3.session.Session(region_name=region or ("us-east-1" if endpoint else None), **keys)


def _client(session: Any, environ: Mapping[str, str], *, endpoint: str | None, checksum: str,
            jobs: int) -> Any:
    from botocore.config import Config

    config = Config(
        request_checksum_calculation=checksum, response_checksum_validation=checksum,
        retries={"mode": environ.get("AWS_RETRY_MODE") or "standard",
                 "max_attempts": int(environ.get("AWS_MAX_ATTEMPTS") or 5)},
        max_pool_connections=jobs * MULTIPART_CONCURRENCY,
        connect_timeout=10, read_timeout=120,
        s3={"addressing_style": "path"} if endpoint else None,
    )
    return session.client("s3", endpoint_url=endpoint, config=config)


def _transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    # use_threads with a small per-file pool: the store's own pool runs files in parallel.
    return TransferConfig(multipart_threshold=MULTIPART_THRESHOLD,
                          multipart_chunksize=MULTIPART_CHUNK,
                          max_concurrency=MULTIPART_CONCURRENCY)
