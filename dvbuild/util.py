"""The one subprocess helper, the one JSON-object reader, and small shared utilities."""

from __future__ import annotations

import json
import re
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
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object)
    except _DuplicateKey:
        raise ConfigError(_duplicates(text, file, what)) from None
    except json.JSONDecodeError as e:
        raise ConfigError(Problem(file, f"malformed JSON: {e.msg}, found {_near(text, e.pos)}",
                                  line=e.lineno, column=e.colno, expected=what)) from None
    except ValueError as e:  # NaN / Infinity, an int of more than 4300 digits
        raise ConfigError(_value_problem(text, file, str(e), what)) from None
    except RecursionError:
        raise ConfigError(Problem(file, "JSON nested too deeply",
                                  expected=f"{what} nested at most a few hundred levels")) from None
    if not isinstance(data, dict):
        raise ConfigError(Problem(file, f"top level is {type(data).__name__}", line=1,
                                  expected=what))
    if _SURROGATE_ESCAPE.search(text) and (pointer := surrogate_pointer(data)) is not None:
        from dvbuild.validate.positions import positions

        line, column = positions(text, [pointer]).get(pointer, (None, None))
        raise ConfigError(Problem(file, "a string holds a lone UTF-16 surrogate (not Unicode text)",
                                  pointer, line, column, expected=what))
    return data


# a \uD800-\uDFFF escape: only then can a parsed string hold a lone surrogate
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_INT = re.compile(r"-?\d{4301,}")


def has_surrogate(text: str) -> bool:
    """A lone surrogate is valid JSON (`"\\ud800"`) but no text can be written out with it."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def surrogate_pointer(data: Any) -> str | None:
    """The JSON pointer of the first key or string holding a lone surrogate, or None."""
    todo: list[tuple[str, Any]] = [("", data)]
    while todo:
        pointer, value = todo.pop()
        if isinstance(value, str) and has_surrogate(value):
            return pointer
        if isinstance(value, dict):
            for key, item in value.items():
                here = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
                if has_surrogate(key):
                    return here
                todo.append((here, item))
        elif isinstance(value, list):
            todo.extend((f"{pointer}/{i}", item) for i, item in enumerate(value))
    return None


def _value_problem(text: str, file: str, message: str, what: str) -> Problem:
    long = _LONG_INT.search(text) if "digits" in message else None
    if long is None:
        return Problem(file, f"malformed JSON: {message}", expected=what)
    line = text.count("\n", 0, long.start()) + 1
    column = long.start() - text.rfind("\n", 0, long.start())
    return Problem(file, f"malformed JSON: an integer of {len(long.group())} digits",
                   line=line, column=column, expected=f"{what} with numbers of at most 4300 digits")


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: a key given twice is an error, not "the last one wins"."""
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _DuplicateKey
    return data


def _duplicates(text: str, file: str, what: str) -> list[Problem]:
    """Every key given twice in one object, with its pointer and line (found only now,
    by a token scan: json.loads forgets positions)."""
    from dvbuild.validate.positions import duplicate_keys

    found = duplicate_keys(text)
    return [Problem(file, f"key {_unescape(pointer.rsplit('/', 1)[-1])!r} is given twice in the same "
                    f"object (first at line {first})", pointer, line, column,
                    expected=f"{what} with unique keys")
            for pointer, (line, column), first in found] or [
        Problem(file, "a key is given twice in the same object",
                expected=f"{what} with unique keys")]


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _near(text: str, pos: int) -> str:
    """What the parser stumbled on: a short quote of the text there."""
    rest = text[pos:pos + 30].split("\n")[0]
    if pos >= len(text) or not text[pos:].strip():
        return "the end of the file"
    return repr(rest if len(rest) < 30 else rest[:27] + "...")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def without_credentials(url: str) -> str:
    """A URL with any `user:password@` taken out: safe to show, to label an image with."""
    return re.sub(r"//[^/@]*@", "//", url)
