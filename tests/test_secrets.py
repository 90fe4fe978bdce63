"""Secret references: one grammar that validate, run and render agree on; env resolution,
one error naming every missing secret, and masking through dvbuild.console."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from dvbuild import console
from dvbuild.errors import ConfigError
from dvbuild.secrets import (
    EnvResolver,
    SecretError,
    SecretRef,
    SecretResolver,
    default_resolvers,
    parse,
    problem,
    resolve_secrets,
)

GOOD = {
    "env:TOKEN": SecretRef("env", "TOKEN"),
    "env:_db_password2": SecretRef("env", "_db_password2"),
    "vault:secret/db#pw": SecretRef("vault", "secret/db", "pw"),
    "vault:/kv/a/b/c#k": SecretRef("vault", "kv/a/b/c", "k"),
    "vault:kv/team/db#pass.word-1": SecretRef("vault", "kv/team/db", "pass.word-1"),
}
BAD = [
    "vault:secret#key",  # no mount/path split: nothing a KV read could address
    "vault:secret/db", "vault:secret/db#", "vault:#k", "vault:/#k", "vault:kv/#k",
    "vault:kv//db#k", "vault:kv/db/#k", "vault:kv/../db#k", "vault:kv/./db#k", "vault:kv/db#a#b",
    "vault:kv/db#k\n", "vault:kv/db#k ", " vault:kv/db#k", "vault:kv/d b#k", "vault:kv/db#\tk",
    "vault:kv/db#k\x00",
    "env:", "env:1X", "env:A-B", "env:TOKEN\n", "env: TOKEN", "env:TOKEN ",
    "", "TOKEN", "plaintext-password", "file:/etc/passwd", "Vault:kv/db#k", ":x",
]


def test_parse_gives_a_typed_reference() -> None:
    for text, ref in GOOD.items():
        assert parse(text) == ref
    assert (parse("vault:/kv/a/b/c#k").mount, parse("vault:/kv/a/b/c#k").secret_path) == \
        ("kv", "a/b/c")


@pytest.mark.parametrize("ref", BAD)
def test_bad_references(ref: str) -> None:
    with pytest.raises(SecretError) as e:
        parse(ref)
    assert problem(ref) == e.value.message
    if len(ref) > 3:  # a malformed reference may be the secret itself: never quoted
        assert ref.strip() not in e.value.message


def test_problem_of_a_non_string() -> None:
    assert problem(42) == "secret reference is int, not a string"
    assert problem("env:TOKEN") is None


class _Anything(Mapping[str, str]):
    """An environment, or a Vault secret, that has every name."""

    def __getitem__(self, key: str) -> str:
        return "zq-secret-value-zq"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, key: object) -> bool:
        return True


class _Vault:
    def read(self, mount: str, path: str) -> Mapping[str, str]:
        return _Anything()


def _validate_ok(ref: str, tmp_path: Path) -> bool:
    from dvbuild.validate.packages import descriptor_problems

    (tmp_path / "main.ipynb").write_text("{}")
    found = descriptor_problems({"name": "p", "resources": [], "secrets": {"X": ref}}, "f",
                                tmp_path)
    return not [p for p in found if p.pointer == "/secrets/X"]


def _run_ok(ref: str) -> bool:
    try:
        resolve_secrets({"X": ref}, default_resolvers({}, _Anything()))
    except SecretError:
        return False
    return True


def _render_ok(ref: str, tmp_path: Path) -> bool:
    from dvbuild import manifests
    from dvbuild.package import Package
    from dvbuild.settings import GitHubContext, RepoConfig, Settings

    settings = Settings(root=tmp_path, git_root=tmp_path, github=GitHubContext(), environ={},
                        config=RepoConfig(naisjob={"team": "t"}))
    package = Package(name="p", path="p", folder=tmp_path,
                      descriptor={"name": "p", "schedule": "0 6 * * *", "secrets": {"X": ref}})
    try:
        text = manifests.render_naisjob(settings, package, "img")
    except ConfigError as e:
        assert [p.pointer for p in e.problems] == ["/secrets/X"]
        return False
    assert ref not in text or ref.startswith("vault:")
    return True


@pytest.mark.parametrize("ref", [*GOOD, *BAD])
def test_validate_run_and_render_agree(ref: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dvbuild.adapters.vault.connect", lambda config, environ: _Vault())
    expected = ref in GOOD
    assert _validate_ok(ref, tmp_path) is expected
    assert _run_ok(ref) is expected
    assert _render_ok(ref, tmp_path) is expected


def test_env_resolution_masks_values() -> None:
    values = resolve_secrets({"API": "env:RUNNER_API"},
                             default_resolvers({}, {"RUNNER_API": "very-secret-api-key"}))
    assert values == {"API": "very-secret-api-key"}
    assert console.redact("key=very-secret-api-key") == "key=***"


def test_every_missing_secret_named_at_once() -> None:
    with pytest.raises(SecretError) as e:
        resolve_secrets({"A": "env:MISSING_A", "B": "env:MISSING_B", "C": "nope:x",
                         "D": "hunter2-the-password"}, default_resolvers({}, {}))
    text = e.value.message
    assert "A (env:MISSING_A)" in text and "B (env:MISSING_B)" in text
    assert "secret C: unknown secret reference scheme 'nope'" in text
    assert "secret D: secret reference has no scheme" in text and "hunter2" not in text


def test_custom_resolver_protocol() -> None:
    class Static:
        def resolve(self, reference: str) -> str:
            return reference.upper() + "-resolved"

    resolvers: dict[str, SecretResolver] = {"env": EnvResolver({}), "vault": Static()}
    assert resolve_secrets({"X": "vault:m/p#k"}, resolvers) == {"X": "M/P#K-resolved"}


def test_secret_error_lives_in_the_error_tree() -> None:
    from dvbuild import errors, secrets
    from dvbuild.adapters import vault

    assert secrets.SecretError is errors.SecretError
    source = Path(vault.__file__).read_text(encoding="utf-8")  # no circle: vault.py is a leaf
    assert "dvbuild.secrets" not in source and "import secrets" not in source
    assert issubclass(errors.SecretError, errors.DvbuildError)
    assert errors.SecretError("x").exit_code == 1


def test_vault_resolver_reads_each_path_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[tuple[str, str]] = []

    class Counting:
        def read(self, mount: str, path: str) -> dict[str, Any]:
            reads.append((mount, path))
            return {"user": "zq-user-zq", "pw": "zq-pw-zq"}

    monkeypatch.setattr("dvbuild.adapters.vault.connect", lambda config, environ: Counting())
    values = resolve_secrets({"U": "vault:/kv/team/db#user", "P": "vault:kv/team/db#pw"},
                             default_resolvers({}, {}))
    assert values == {"U": "zq-user-zq", "P": "zq-pw-zq"}
    assert reads == [("kv", "team/db")]
