"""Real S3 servers for the test session: `rclone serve s3` over a temp dir, and moto's
standalone server (which, unlike rclone, honours conditional writes).

Both run as separate processes on 127.0.0.1 and a free port. If one does not
start, the tests that use it fail with the server's own log; they never skip.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import pytest

KEY, SECRET = "dvbuild-test-key", "dvbuild-test-secret"
_buckets = count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (pip install '.[test]' provides it)")
    return found


@dataclass
class S3Server:
    kind: str  # "rclone" or "moto"
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data(self) -> Path:
        """rclone's backing folder: buckets are its subfolders."""
        return self.workdir / "data"

    @property
    def environ(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1",
                "AWS_MAX_ATTEMPTS": "2"}

    def command(self) -> list[str]:
        if self.kind == "rclone":
            return [_binary("rclone"), "serve", "s3", "--auth-key", f"{KEY},{SECRET}",
                    "--etag-hash", "MD5", "--addr", f"127.0.0.1:{self.port}",
                    "--config", "/dev/null", str(self.data)]
        return [_binary("moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]

    def start(self) -> S3Server:
        self.data.mkdir(parents=True, exist_ok=True)
        with (self.workdir / f"{self.kind}.log").open("ab") as log:  # the child keeps its copy
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self._answers():
                return self
            time.sleep(0.1)
        self.kill()
        text = (self.workdir / f"{self.kind}.log").read_text(errors="replace")
        pytest.fail(f"{self.kind} S3 server did not start on {self.endpoint}:\n{text}")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint + "/", timeout=1)
        except urllib.error.HTTPError:
            return True  # 403 without credentials: it is up
        except OSError:
            return False
        return True

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=KEY,
            aws_secret_access_key=SECRET, region_name="us-east-1",
            config=Config(request_checksum_calculation="when_required",
                          response_checksum_validation="when_required",
                          s3={"addressing_style": "path"}))

    def bucket(self) -> str:
        name = f"b{next(_buckets)}-{self.port}"
        self.client().create_bucket(Bucket=name)
        return name


def _server(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(kind, tmp_path_factory.mktemp(kind)).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    yield from _server("rclone", tmp_path_factory)


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    yield from _server("moto", tmp_path_factory)


@pytest.fixture
def s3_server_factory(tmp_path: Path) -> Iterator[Callable[[str], S3Server]]:
    """Private servers a test may kill and restart (same folder, new port)."""
    started: list[S3Server] = []

    def make(kind: str = "rclone") -> S3Server:
        server = S3Server(kind, tmp_path / f"{kind}{len(started)}").start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill()
