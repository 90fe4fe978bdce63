"""The one subprocess helper, and small shared utilities."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from dvbuild.errors import CalledProcessError


def cmd_output(
    *cmd: str,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdin: bytes | None = None,
) -> tuple[int, bytes, bytes]:
    """Run a command; raise CalledProcessError (command, code, stdout, stderr) on failure."""
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=dict(env) if env is not None else None,
            input=stdin, capture_output=True, check=False,
        )
    except FileNotFoundError as e:
        raise CalledProcessError(cmd, 127, "", f"{cmd[0]}: not found ({e})") from None
    if check and proc.returncode != 0:
        raise CalledProcessError(
            cmd, proc.returncode,
            proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"),
        )
    return proc.returncode, proc.stdout, proc.stderr


def cmd_text(*cmd: str, cwd: str | Path | None = None, env: Mapping[str, str] | None = None) -> str:
    return cmd_output(*cmd, cwd=cwd, env=env)[1].decode()


def split_z(data: bytes) -> list[str]:
    """Split git's -z output into paths (decoded as UTF-8, never quoted)."""
    return [p.decode("utf-8", errors="surrogateescape") for p in data.split(b"\0") if p]

