"""Real descriptors from public repositories (tests/corpora/descriptors, see SOURCE.md):
`dvbuild validate` accepts every one frictionless-py 5 accepts, and refuses the ones
it refuses (issue #13)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvbuild.package import descriptor_object
from tests.conftest import Repo, Result

CORPUS = Path(__file__).parent / "corpora" / "descriptors"
FILES = sorted(p.name for p in CORPUS.iterdir() if p.name != "SOURCE.md")
REMOTE = "camtrap-dp-example.datapackage.json"  # names remote profiles and schemas
NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def load(name: str) -> dict[str, Any]:
    return descriptor_object((CORPUS / name).read_bytes(), name)


def frictionless_errors(descriptor: dict[str, Any], folder: Path,
                        monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """frictionless's verdict on the metadata alone, offline (the same on every machine)."""
    from frictionless import Package

    def offline(*args: Any, **kwargs: Any) -> None:
        raise OSError("the corpus test runs offline")

    with monkeypatch.context() as m:
        m.setattr(socket.socket, "connect", offline)
        errors: list[list[str]] = Package.validate_descriptor(
            dict(descriptor), basepath=str(folder)).flatten(["type", "note"])
    return errors


def as_package(repo: Repo, name: str) -> Path:
    """The descriptor, unchanged but for a `name` where it has none, in a package folder
    named as its file is (datapackage.json, or .yaml for a YAML one)."""
    text = (CORPUS / name).read_text(encoding="utf-8")
    yaml = name.endswith((".yaml", ".yml"))
    if "name" not in load(name):
        text = ("name: corpus-package\n" if yaml else '{"name": "corpus-package",') + (
            text if yaml else text.lstrip()[1:])
    repo.write("p/main.ipynb", NB)
    return repo.write(f"p/datapackage.{'yaml' if yaml else 'json'}", text)


def validate(cli: Callable[..., Result], repo: Repo) -> tuple[int, dict[str, Any]]:
    result = cli("validate", "--json", "--repo", repo.path)
    return result.code, result.json()


def test_the_corpus_is_worth_testing() -> None:
    assert len(FILES) >= 15
    assert any(n.endswith((".yaml", ".yml")) for n in FILES)


@pytest.mark.parametrize("name", [n for n in FILES if n != REMOTE])
def test_dvbuild_agrees_with_frictionless(cli: Callable[..., Result],
                                          make_repo: Callable[..., Repo],
                                          monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    repo = make_repo(commit=False)
    path = as_package(repo, name)
    errors = frictionless_errors(load(name), path.parent, monkeypatch)
    code, doc = validate(cli, repo)
    if not errors:
        assert (code, doc["problems"]) == (0, []), f"frictionless accepts {name}"
    else:
        assert code == 2, f"frictionless refuses {name}: {errors}"


def test_remote_references_are_the_only_refusal(cli: Callable[..., Result],
                                                make_repo: Callable[..., Repo]) -> None:
    """dvbuild never fetches a URL while validating: the remote profile and schemas are
    refused, by pointer; the rest of the descriptor (an inline `data` resource) is not."""
    repo = make_repo(commit=False)
    as_package(repo, REMOTE)
    code, doc = validate(cli, repo)
    assert code == 2
    assert sorted(p["pointer"] for p in doc["problems"]) == [
        "/profile", "/resources/0/schema", "/resources/1/schema", "/resources/2/schema"]


def test_country_codes_yaml_warns_about_related_only(cli: Callable[..., Result],
                                                     make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(commit=False)
    as_package(repo, "datasets-country-codes.datapackage.yml")
    code, doc = validate(cli, repo)
    assert (code, doc["problems"]) == (0, [])
    assert [(w["file"], w["pointer"], w["line"]) for w in doc["warnings"]] == [
        ("p/datapackage.yaml", "/related", 20)]
