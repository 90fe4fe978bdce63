"""Secret references -> values, resolved before any kernel starts, masked everywhere.

`secrets` in datapackage.json maps an env var name to a reference:
`env:NAME` (the runner's environment) or `vault:<mount>/<path>#<key>` (Vault
KV v1 or v2, through dvbuild.adapters.vault). Each scheme is a small
`SecretResolver`; resolved values are registered with `console.mask`, so they
are replaced by *** in everything dvbuild writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dvbuild import console
from dvbuild.errors import DvbuildError

SCHEMES = ("env", "vault")


class SecretError(DvbuildError):
    """A secret could not be resolved; the message names it but never holds a value."""


class SecretResolver(Protocol):
    def resolve(self, reference: str) -> str: ...


@dataclass(frozen=True)
class VaultRef:
    mount: str
    path: str
    key: str


def split(reference: str) -> tuple[str, str]:
    scheme, sep, rest = reference.partition(":")
    if not sep or scheme not in SCHEMES or not rest:
        raise SecretError(f"{reference!r} is not a secret reference",
                          hint="use env:NAME or vault:<mount>/<path>#<key>")
    return scheme, rest


def parse_vault(rest: str) -> VaultRef:
    location, sep, key = rest.partition("#")
    mount, slash, path = location.strip("/").partition("/")
    if not sep or not key or not slash or not mount or not path:
        raise SecretError(f"'vault:{rest}' is not a Vault reference",
                          hint="use vault:<mount>/<path>#<key>, e.g. vault:secret/team/db#password")
    return VaultRef(mount, path, key)


def problem(reference: object) -> str | None:
    """Why a reference is malformed (for validation), or None."""
    if not isinstance(reference, str):
        return "a reference must be a string"
    try:
        scheme, rest = split(reference)
        if scheme == "vault":
            parse_vault(rest)
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
        self._cache: dict[tuple[str, str], Mapping[str, Any]] = {}

    def resolve(self, reference: str) -> str:
        ref = parse_vault(reference)
        if (ref.mount, ref.path) not in self._cache:
            if self._client is None:
                from dvbuild.adapters.vault import connect

                self._client = connect(self.config, self.environ)
            self._cache[(ref.mount, ref.path)] = self._client.read(ref.mount, ref.path)
        data = self._cache[(ref.mount, ref.path)]
        if ref.key not in data:
            raise SecretError(f"Vault secret {ref.mount}/{ref.path} has no key {ref.key!r}")
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
            scheme, rest = split(str(reference))
            values[var] = resolvers[scheme].resolve(rest)
        except SecretError as e:
            failures.append(f"secret {var} ({reference}): {e.message}")
        except DvbuildError as e:
            failures.append(f"secret {var} ({reference}): {e}")
    for value in values.values():
        console.mask(value)
    if failures:
        raise SecretError("; ".join(failures))
    return values
