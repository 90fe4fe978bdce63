"""The one subprocess helper, the one JSON-object reader, and small shared utilities."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dvbuild.errors import CalledProcessError, ConfigError, Problem, UsageError


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


def split_z(data: bytes) -> list[str]:
    """Split git's -z output into paths (decoded as UTF-8, never quoted)."""
    return [p.decode("utf-8", errors="surrogateescape") for p in data.split(b"\0") if p]


def read_json_object(path: Path, *, what: str = "a JSON object", file: str | None = None,
                     max_bytes: int | None = None, argument: bool = False) -> dict[str, Any]:
    """The JSON object in `path` (shown as `file`); else a ConfigError naming the file, line
    and column. `argument`: the path came from the command line, so a file that cannot
    be read is a UsageError (a wrong argument), not a problem inside the file."""
    file = str(path) if file is None else file
    return parse_json_object(read_json_text(path, file, what=what, max_bytes=max_bytes,
                                            argument=argument), file, what=what)


def read_json_text(path: Path, file: str, *, what: str = "a JSON object",
                   max_bytes: int | None = None, argument: bool = False) -> str:
    """A JSON file's text: a regular file, at most `max_bytes`, UTF-8 (a BOM is dropped)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise ConfigError(Problem(file, "not a regular file", expected=what))
        if max_bytes is not None and info.st_size > max_bytes:
            raise ConfigError(Problem(file, f"file is {info.st_size} bytes",
                                      expected=f"at most {max_bytes} bytes"))
        raw = path.read_bytes()
    except OSError as e:
        if argument:
            raise UsageError(f"{file}: cannot read ({e.strerror})") from None
        raise ConfigError(Problem(file, f"cannot read: {e.strerror}")) from None
    return _decode(raw, file, what)


def _decode(raw: bytes, file: str, what: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(Problem(file, f"not UTF-8 text (byte {e.start})",
                                  expected=what)) from None


def parse_json_object(text: str | bytes, file: str, *, what: str = "a JSON object") -> dict[str, Any]:
    """One JSON object from text (bytes: UTF-8); malformed JSON is a ConfigError with the
    line, column and a quote of what the parser stumbled on. NaN/Infinity are not JSON."""
    text = _decode(text, file, what) if isinstance(text, bytes) else text
    if not text.strip():
        raise ConfigError(Problem(file, "file is empty", line=1, column=1, expected=what))
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise ConfigError(Problem(file, f"malformed JSON: {e.msg}, found {_near(text, e.pos)}",
                                  line=e.lineno, column=e.colno, expected=what)) from None
    except ValueError as e:  # NaN / Infinity
        raise ConfigError(Problem(file, f"malformed JSON: {e}", expected=what)) from None
    except RecursionError:
        raise ConfigError(Problem(file, "JSON nested too deeply",
                                  expected=f"{what} nested at most a few hundred levels")) from None
    if not isinstance(data, dict):
        raise ConfigError(Problem(file, f"top level is {type(data).__name__}", line=1,
                                  expected=what))
    return data


def _near(text: str, pos: int) -> str:
    """What the parser stumbled on: a short quote of the text there."""
    rest = text[pos:pos + 30].split("\n")[0]
    if pos >= len(text) or not text[pos:].strip():
        return "the end of the file"
    return repr(rest if len(rest) < 30 else rest[:27] + "...")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
