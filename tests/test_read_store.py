"""Which store a run's read_dp reads: the kernel's DVBUILD_STORE."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dvbuild.notebooks.prepare import kernel_env
from dvbuild.package import discover
from dvbuild.settings import load_settings
from tests.conftest import Repo


@pytest.mark.parametrize(("config", "environ", "test", "run"), [
    ("", {}, None, None),
    ("store: s3://prod/p\n", {}, "s3://prod/p", "s3://prod/p"),
    ("store: s3://prod/p\ntest_store: file:///samples\n", {}, "file:///samples", "s3://prod/p"),
    ("store: s3://prod/p\n", {"DVBUILD_TEST_STORE": "file:///ci"}, "file:///ci", "s3://prod/p"),
])
def test_test_runs_read_test_store_else_store(make_repo: Callable[..., Repo], tmp_path: Path,
                                              config: str, environ: dict[str, str],
                                              test: str | None, run: str | None) -> None:
    repo = make_repo(commit=False)
    if config:
        repo.write("dvbuild.yaml", config)
    repo.write_package("packages/a")
    settings = load_settings(repo.path, environ=environ)
    [package] = discover(settings.root)
    assert kernel_env(settings, package, tmp_path, "test", {}).get("DVBUILD_STORE") == test
    assert kernel_env(settings, package, tmp_path, "run", {}).get("DVBUILD_STORE") == run
