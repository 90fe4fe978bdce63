"""Secret references -> values, resolved before any kernel starts, masked everywhere.

`secrets` in datapackage.json maps an env var name to a reference:
`env:NAME` (the runner's environment) or `vault:<mount>/<path>#<key>` (Vault
KV v1 or v2, through dvbuild.adapters.vault). `parse` is the one reading of
that grammar: `validate` reports its problems, `render` mounts what it
returns, `run` resolves it. Each scheme is a small `SecretResolver`; resolved
values are registered with `console.mask`, so they are replaced by *** in
everything dvbuild writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, Protocol

from dvbuild import console
from dvbuild.errors import DvbuildError, SecretError

__all__ = ["ENV_NAME_RE", "FORMS", "SCHEMES", "SecretError", "SecretRef", "SecretResolver",
           "default_resolvers", "is_env_name", "parse", "problem", "resolve_secrets"]

SCHEMES = ("env", "vault")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")  # "\Z": "$" would accept a "\n"
FORMS = "'env:<NAME>' or 'vault:<mount>/<path>#<key>'"


class SecretRef(NamedTuple):
    """A parsed reference. env: `path` is the variable's name; vault: `path` is
    <mount>/<path> without a leading '/', `key` the key inside that secret."""

    scheme: Literal["env", "vault"]
    path: str
    key: str = ""

    @property
    def mount(self) -> str:
        return self.path.partition("/")[0]

    @property
    def secret_path(self) -> str:
        return self.path.partition("/")[2]


class SecretResolver(Protocol):
    def resolve(self, reference: str) -> str: ...


def is_env_name(name: object) -> bool:
    return isinstance(name, str) and ENV_NAME_RE.fullmatch(name) is not None


def parse(reference: object) -> SecretRef:
    """The one reading of a reference; a SecretError says what is wrong with it. Messages
    never quote the reference: a malformed one may well be the secret itself."""
    if not isinstance(reference, str):
        raise SecretError(f"secret reference is {type(reference).__name__}, not a string")
    if any(c.isspace() or not c.isprintable() for c in reference):
        raise SecretError("secret reference contains whitespace or control characters")
    scheme, sep, rest = reference.partition(":")
    if not sep:
        raise SecretError("secret reference has no scheme", hint=f"use {FORMS}")
    if scheme == "env":
        if not is_env_name(rest):
            raise SecretError("env reference does not name an environment variable",
                              hint="use env:<NAME>: letters, digits and '_', not starting with a digit")
        return SecretRef("env", rest)
    if scheme == "vault":
        return _parse_vault(rest)
    shown = f" {scheme!r}" if scheme.isalpha() and len(scheme) <= 10 else ""  # not a password
    raise SecretError(f"unknown secret reference scheme{shown}", hint=f"use {FORMS}")


def _parse_vault(rest: str) -> SecretRef:
    location, sep, key = rest.partition("#")
    segments = location.removeprefix("/").split("/")
    if not sep or not key:
        why = "has no #<key>"
    elif "#" in key:
        why = "has more than one '#'"
    elif len(segments) < 2:
        why = "has no <path> after the mount"
    elif not all(segments):
        why = "has an empty path segment"
    elif any(s in (".", "..") for s in segments):
        why = "has a '.' or '..' path segment"
    else:
        return SecretRef("vault", "/".join(segments), key)
    raise SecretError(f"vault reference {why}",
                      hint="use vault:<mount>/<path>#<key>, e.g. vault:secret/team/db#password")


def problem(reference: object) -> str | None:
    """Why a reference is malformed (what `validate` reports), or None."""
    try:
        parse(reference)
    except SecretError as e:
        return e.message
    return None


class EnvResolver:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def resolve(self, reference: str) -> str:
        value = self.environ.get(reference)
        if value is None:
            raise SecretError(f"environment variable {reference} is not set")
        return value


class VaultResolver:
    """Logs in once, on the first vault: reference, and reads each secret once."""

    def __init__(self, config: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        self.config = config
        self.environ = environ
        self._client: Any = None
        self._cache: dict[str, Mapping[str, Any]] = {}

    def resolve(self, reference: str) -> str:
        ref = parse(f"vault:{reference}")
        if ref.path not in self._cache:
            if self._client is None:
                from dvbuild.adapters.vault import connect

                self._client = connect(self.config, self.environ)
            self._cache[ref.path] = self._client.read(ref.mount, ref.secret_path)
        data = self._cache[ref.path]
        if ref.key not in data:
            raise SecretError(f"Vault secret {ref.path} has no key {ref.key!r}")
        return str(data[ref.key])


def default_resolvers(vault_config: Mapping[str, Any],
                      environ: Mapping[str, str]) -> dict[str, SecretResolver]:
    return {"env": EnvResolver(environ), "vault": VaultResolver(vault_config, environ)}


def resolve_secrets(secrets: Mapping[str, str],
                    resolvers: Mapping[str, SecretResolver]) -> dict[str, str]:
    """{env var: value} for a package's `secrets`; every failure in one SecretError."""
    values: dict[str, str] = {}
    failures: list[str] = []
    for var, reference in secrets.items():
        try:
            ref = parse(reference)
        except SecretError as e:  # never echo a malformed reference: it may be the value
            failures.append(f"secret {var}: {e.message} (expected {FORMS})")
            continue
        try:
            values[var] = resolvers[ref.scheme].resolve(reference.partition(":")[2])
        except SecretError as e:
            failures.append(f"secret {var} ({reference}): {e.message}")
        except DvbuildError as e:
            failures.append(f"secret {var} ({reference}): {e}")
    for value in values.values():
        console.mask(value)
    if failures:
        raise SecretError("; ".join(failures))
    return values
