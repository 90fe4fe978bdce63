"""Every error dvbuild expects to meet, and what the user is told.

    DvbuildError                  exit 1 unless a subclass says otherwise
     ├── InputError               exit 2: the user must fix something
     │    ├── UsageError          bad flags, missing arguments, bad refs
     │    ├── ConfigError         datapackage.json / dvbuild.yaml problems (one or many)
     │    └── MissingDependency   an optional extra is not installed (names the pip command)
     ├── PackageFailed            exit 1: a package's test, build or publish failed
     ├── SecretError              exit 1: a secret reference could not be resolved (never shows a value)
     ├── ServiceError             exit 1: a store, catalog, engine or API did not answer as it should
     ├── DataPackageError         exit 1: read_dp cannot read a published package (names store,
     │                            package and version): missing, no match, incomplete, checksum
     └── CalledProcessError       exit 1: a subprocess (git, pip, ...) failed

Messages are user-facing: one line saying what is wrong, plus an optional hint.
The CLI catches these once and maps them to exit codes; nothing below the CLI
calls sys.exit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Problem(NamedTuple):
    """One thing wrong in one file: where (file, JSON pointer, line) and what."""

    file: str
    message: str
    pointer: str = ""
    line: int | None = None
    column: int | None = None
    expected: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.pointer:
            where += f" {self.pointer}"
        text = f"{where}: {self.message}"
        if self.expected:
            text += f" (expected {self.expected})"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "pointer": self.pointer,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "expected": self.expected,
        }


class DvbuildError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message


class InputError(DvbuildError):
    exit_code = 2


class UsageError(InputError):
    pass


class ConfigError(InputError):
    """One or more problems in configuration files, all reported at once."""

    def __init__(self, problems: Sequence[Problem] | Problem, hint: str = "") -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems), hint)


class PackageFailed(DvbuildError):
    def __init__(self, package: str, message: str, hint: str = "") -> None:
        super().__init__(f"{package}: {message}", hint)
        self.package = package


class SecretError(DvbuildError):
    """A secret could not be resolved; the message names it but never holds a value."""


class ServiceError(DvbuildError):
    pass


class DataPackageError(DvbuildError):
    """`read_dp` could not read a published package as asked; says where it looked."""

    def __init__(self, message: str, *, store: str, package: str, version: str,
                 hint: str = "") -> None:
        super().__init__(f"{store}: package {package!r}, version {version!r}: {message}", hint)
        self.store = store
        self.package = package
        self.version = version


class MissingDependency(InputError):
    """An optional extra is not installed; say which pip command fixes it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this needs the Python package {module!r}, which is not installed",
            hint=f"pip install 'dvbuild[{extra}]'",
        )


class CalledProcessError(DvbuildError):
    def __init__(
        self, cmd: Sequence[str], returncode: int, stdout: str, stderr: str
    ) -> None:
        self.cmd = tuple(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        parts = [f"command failed (exit {returncode}): {' '.join(cmd)}"]
        if stdout.strip():
            parts.append("stdout:\n" + _indent(stdout))
        if stderr.strip():
            parts.append("stderr:\n" + _indent(stderr))
        super().__init__("\n".join(parts))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())
