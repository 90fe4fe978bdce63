"""A real PostgreSQL server for the test session (Debian's postgresql 15 binaries).

`initdb` runs as the `postgres` user (PostgreSQL refuses root) into a temp
dir; the server listens on 127.0.0.1 and a free port, with a Unix socket in
the same dir. Local socket connections are trusted; TCP connections need a
password (scram-sha-256), so tests can check that a source URL's password
arrives intact. If the server cannot start, the tests that use it fail with
its log; they never skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "p@ss:w/rd%1"  # every character that must be percent-encoded in a URL


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    database: str

    def url(self, password: str | None = None) -> str:
        from urllib.parse import quote

        pw = quote(self.password if password is None else password, safe="")
        return f"postgresql+psycopg://{self.user}:{pw}@{self.host}:{self.port}/{self.database}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*cmd: str) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, check=False)


def _binary(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed (scripts/test-deps.sh installs "
                    "postgresql)")
    return found


def _start(workdir: Path) -> Postgres:
    data, port = workdir / "data", _free_port()
    pwfile = workdir / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(pwfile, "postgres")
    init = _as_postgres(_binary("initdb"), "-D", str(data), "-U", "postgres", "--pwfile",
                        str(pwfile), "--auth-local=trust", "--auth-host=scram-sha-256",
                        "-E", "UTF8", "--locale=C.UTF-8")
    if init.returncode != 0:
        pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    log = workdir / "server.log"
    start = _as_postgres(_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                         "-o", f"-h 127.0.0.1 -p {port} -k {workdir} -c fsync=off", "start")
    if start.returncode != 0:
        text = log.read_text() if log.exists() else ""
        pytest.fail(f"PostgreSQL did not start:\n{start.stdout}\n{start.stderr}\n{text}")
    return Postgres("127.0.0.1", port, "postgres", PASSWORD, "postgres")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    workdir = Path(tempfile.mkdtemp(prefix="dvbuild-pg-"))
    server = _start(workdir)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = _as_postgres(_binary("pg_isready"), "-h", server.host, "-p",
                                 str(server.port))
            if ready.returncode == 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"PostgreSQL is not accepting connections on port {server.port}")
        yield server
    finally:
        _as_postgres(_binary("pg_ctl"), "-D", str(workdir / "data"), "-m", "immediate", "stop")
        shutil.rmtree(workdir, ignore_errors=True)
