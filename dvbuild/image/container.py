"""A package's image started through its entrypoint (`dvbuild run /app/<path> ARGS`), the
way its Naisjob starts it: for `dvbuild test --image` (testrun.py) and `dvbuild run
--image` (prodrun.py).

    secret_environ(environ, package) -> the caller's variables the package's secrets need
    with_files(env) -> env, and the files it names as read-only mounts
    start(engine, image, package, args, env=..., mounts=..., files=...) -> the exit code
    read_report(package, out) -> OUT/<name>/report.json, or None when it wrote none

The container runs as the caller's uid:gid, so what it writes into a mounted folder (OUT,
a file store) belongs to the caller, as after a run on the host; and on the host's
network, so it reaches what the caller reaches (a store, catalog or Vault on localhost, a
proxy). Its environment is the image's own plus `env`: nothing else of the caller's.
Files that `env` names (a CA bundle, a web identity token) are mounted read-only at
their own paths.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dvbuild import console
from dvbuild.errors import DvbuildError, UsageError
from dvbuild.package import Package

if TYPE_CHECKING:
    from dvbuild.image.build import Engine
    from dvbuild.notebooks.report import Report

# what a run's vault: references need to log in: a token, or GitHub's id-token (JWT)
VAULT_ENV = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_ROLE", "VAULT_CACERT",
             "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
VAULT_SECRETS = ("VAULT_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
# variables that name a file the run reads
FILE_ENV = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CA_BUNDLE", "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONFIG_FILE", "VAULT_CACERT")


def secret_environ(environ: Mapping[str, str], package: Package) -> dict[str, str]:
    """The caller's variables the package's `secrets` refer to (env:NAME, and Vault's
    login for vault: references, which the run inside resolves itself), secrets masked."""
    from dvbuild.secrets import parse

    names: set[str] = set()
    for reference in package.secrets.values():
        try:
            ref = parse(str(reference))
        except DvbuildError:
            continue  # the run inside reports it, as `dvbuild test` does
        names |= {ref.path} if ref.scheme == "env" else set(VAULT_ENV)
    found = {k: environ[k] for k in sorted(names) if environ.get(k)}
    for name, value in found.items():
        if name not in VAULT_ENV or name in VAULT_SECRETS:
            console.mask(value)
    return found


def start(engine: Engine, image: str, package: Package, args: Sequence[str], *,
          env: Mapping[str, str], mounts: Mapping[str, str], files: Mapping[str, str]) -> int:
    """Run the image's entrypoint with `args` to the end, `files` mounted read-only, its
    output logged line by line under the package's name; the container's exit code."""
    prefix = f"[{package.name}] "

    def log(line: str) -> None:  # the run inside already names the package on its lines
        console.log(line if line.startswith(prefix) else prefix + line)

    return engine.run(image, args, mounts=mounts, read_only=files, env=env, network="host",
                      log=log, user=f"{os.getuid()}:{os.getgid()}")


def with_files(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """`env` with each file variable (FILE_ENV) made an absolute path, and those files as
    read-only mounts; a file that is not there is bad input."""
    env, files = dict(env), {}
    for name in FILE_ENV:
        if not env.get(name):
            continue
        path = Path(env[name]).resolve()
        if not path.is_file():
            raise UsageError(f"{name}={env[name]}: no such file",
                             hint=f"point {name} at the file, or unset it")
        env[name] = files[str(path)] = str(path)
    return env, files


def read_report(package: Package, out: Path) -> Report | None:
    """OUT/<name>/report.json as the run in the image wrote it; None when it wrote none."""
    from dvbuild.notebooks.report import REPORT

    try:
        report: Report = json.loads((out / package.name / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None
