"""Shared fixtures: real git repositories in tmp_path, and the CLI run in-process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dvbuild import console
from dvbuild.cli import main

pytest_plugins: list[str] = ["tests.services.docker", "tests.services.s3", "tests.services.postgres"]

HERE = Path(__file__).parent
EXAMPLES = HERE.parent / "examples" / "monorepo"
CORPORA = HERE / "corpora"

os.environ.update({
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
})
for _var in ("GITHUB_ACTIONS", "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_OUTPUT",
             "GITHUB_STEP_SUMMARY", "GITHUB_TOKEN"):
    os.environ.pop(_var, None)


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@dataclass
class Repo:
    path: Path

    def git(self, *args: str) -> str:
        return git(self.path, *args)

    def write(self, rel: str, content: str | bytes = "x\n") -> Path:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return p

    def write_package(self, rel: str, name: str | None = None, **fields: Any) -> Path:
        descriptor = {"name": name or Path(rel).name, "resources": [], **fields}
        return self.write(f"{rel}/datapackage.json", json.dumps(descriptor, indent=2) + "\n")

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Repo]:
    """A fresh `git init` repo, optionally seeded from a folder, committed."""
    counter = iter(range(1000))

    def make(source: Path | None = None, *, commit: bool = True) -> Repo:
        path = tmp_path / f"repo{next(counter)}"
        if source is not None:
            shutil.copytree(source, path)
        else:
            path.mkdir()
        git(path, "init", "-q", "-b", "main")
        repo = Repo(path)
        if commit:
            repo.commit("initial")
        return repo

    return make


@pytest.fixture
def example_repo(make_repo: Callable[..., Repo]) -> Repo:
    """examples/monorepo as its own git repository."""
    return make_repo(EXAMPLES)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Result]]:
    """Run `dvbuild ARGS...` in-process; returns exit code, stdout and stderr."""

    def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
        capsys.readouterr()
        with monkeypatch.context() as m:
            if cwd is not None:
                m.chdir(cwd)
            for k, v in (env or {}).items():
                m.setenv(k, v)
            code = main([str(a) for a in args])
        console.configure(github_actions=False)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run
