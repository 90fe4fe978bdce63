"""Secret references: parsing, env resolution, one error naming every missing secret,
and masking through dvbuild.console."""

from __future__ import annotations

import pytest

from dvbuild import console
from dvbuild.secrets import (
    EnvResolver,
    SecretError,
    SecretResolver,
    VaultRef,
    default_resolvers,
    parse_vault,
    problem,
    resolve_secrets,
)


def test_parse_vault_reference() -> None:
    assert parse_vault("secret/team/db#password") == VaultRef("secret", "team/db", "password")
    assert parse_vault("/kv/a/b/c#k") == VaultRef("kv", "a/b/c", "k")


@pytest.mark.parametrize("ref", ["secret/db", "secret#key", "secret/db#", "#k"])
def test_bad_vault_references(ref: str) -> None:
    with pytest.raises(SecretError):
        parse_vault(ref)


@pytest.mark.parametrize("ref, ok", [
    ("env:TOKEN", True), ("vault:secret/db#pw", True), ("vault:secret#pw", False),
    ("file:/etc/passwd", False), ("TOKEN", False), (42, False),
])
def test_problem(ref: object, ok: bool) -> None:
    assert (problem(ref) is None) is ok


def test_env_resolution_masks_values() -> None:
    values = resolve_secrets({"API": "env:RUNNER_API"},
                             default_resolvers({}, {"RUNNER_API": "very-secret-api-key"}))
    assert values == {"API": "very-secret-api-key"}
    assert console.redact("key=very-secret-api-key") == "key=***"


def test_every_missing_secret_named_at_once() -> None:
    with pytest.raises(SecretError) as e:
        resolve_secrets({"A": "env:MISSING_A", "B": "env:MISSING_B", "C": "nope:x"},
                        default_resolvers({}, {}))
    text = e.value.message
    assert "A (env:MISSING_A)" in text and "B (env:MISSING_B)" in text and "C (nope:x)" in text


def test_custom_resolver_protocol() -> None:
    class Static:
        def resolve(self, reference: str) -> str:
            return reference.upper() + "-resolved"

    resolvers: dict[str, SecretResolver] = {"env": EnvResolver({}), "vault": Static()}
    assert resolve_secrets({"X": "vault:m/p#k"}, resolvers) == {"X": "M/P#K-resolved"}
