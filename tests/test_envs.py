"""Each package's notebooks run in its own environment: its requirements.txt locked with
dvbuild's own requirements, installed by uv from the machine's package index into a
cached venv (dvbuild/notebooks/envs.py). These tests install for real."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvbuild import notebooks
from dvbuild.notebooks import envs
from dvbuild.package import discover
from dvbuild.settings import load_settings
from tests.conftest import Repo, Result
from tests.test_notebooks import notebook

MODULE = "toolz"  # small, pure Python, and not in dvbuild's own environment
BROKEN = {
    "unknown": ("dvbuild-no-such-package-9f8e7d\n", "was not found in the package registry"),
    "noversion": (f"{MODULE}==99.99.99\n", f"there is no version of {MODULE}==99.99.99"),
    "syntax": (f"{MODULE}>>=1\n", "no such comparison operator"),
}


def make_repo(root: Path) -> Repo:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    return Repo(root)


def add(repo: Repo, name: str, requirements: str | None, *cells: str) -> None:
    repo.write(f"p/{name}/main.ipynb", notebook(*cells))
    if requirements is not None:
        repo.write(f"p/{name}/requirements.txt", requirements)
    repo.write_package(f"p/{name}")


def run(repo: Repo, environ: dict[str, str] | None = None, names: tuple[str, ...] = (),
        out: Path | None = None) -> dict[str, dict[str, Any]]:
    settings = load_settings(repo.path, environ=environ or {})
    packages = [p for p in discover(repo.path) if not names or p.name in names]
    reports = notebooks.test_packages(settings, packages, out or repo.path.parent / "out", jobs=2)
    return {r["package"]: r for r in reports}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, dict[str, dict[str, Any]]]:
    assert importlib.util.find_spec(MODULE) is None, f"{MODULE} must not be in dvbuild's environment"
    repo = make_repo(tmp_path_factory.mktemp("envs") / "repo")
    add(repo, "declared", f"{MODULE}\n", f"import sys, {MODULE}",
        "assert '/envs/' in sys.prefix, sys.prefix  # the package's env, not dvbuild's")
    add(repo, "undeclared", None, f"import {MODULE}")
    for pin in ("0.12.0", "0.12.1"):
        add(repo, f"pin-{pin}", f"{MODULE}=={pin}\n",
            f"import {MODULE}; assert {MODULE}.__version__ == {pin!r}, {MODULE}.__version__")
    for name, (requirements, _) in BROKEN.items():
        add(repo, name, requirements, "print('never runs')")
    repo.commit()
    return repo, run(repo)


def test_a_declared_module_missing_from_dvbuild_is_there(shared: Any) -> None:
    repo, reports = shared
    assert reports["declared"]["status"] == "passed", reports["declared"]
    lock = (repo.path.parent / "out" / "declared" / envs.LOCK_FILE).read_text()
    assert f"\n{MODULE}==" in f"\n{lock}" and "\nipykernel==" in f"\n{lock}"
    assert "dvbuild" not in [line.split("==")[0] for line in lock.splitlines()]


def test_an_undeclared_module_fails_with_a_hint(shared: Any) -> None:
    _, reports = shared
    report = reports["undeclared"]
    assert report["status"] == "failed"
    error = report["notebooks"][0]["error"]
    assert error["ename"] == "ModuleNotFoundError"
    assert error["hint"] == f"add {MODULE} to p/undeclared/requirements.txt"


def test_conflicting_pins_both_pass_in_one_run(shared: Any) -> None:
    repo, reports = shared
    assert reports["pin-0.12.0"]["status"] == reports["pin-0.12.1"]["status"] == "passed"
    locks = [(repo.path.parent / "out" / f"pin-{v}" / envs.LOCK_FILE).read_text()
             for v in ("0.12.0", "0.12.1")]
    assert f"{MODULE}==0.12.0\n" in locks[0] and f"{MODULE}==0.12.1\n" in locks[1]


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_requirements_fail_that_package_with_the_resolvers_message(shared: Any,
                                                                          name: str) -> None:
    repo, reports = shared
    report = reports[name]
    assert report["status"] == "failed" and report["notebooks"] == []
    assert report["error"].startswith(f"p/{name}/requirements.txt could not be resolved: ")
    assert BROKEN[name][1] in report["error"] and "\n" not in report["error"]
    out = repo.path.parent / "out"
    assert sorted(p.name for p in (out / name).iterdir()) == ["report.json"]
    assert json.loads((out / name / "report.json").read_text())["error"] == report["error"]
    assert BROKEN[name][1] in (out / f"{name}.log").read_text()  # uv's whole message


def test_broken_requirements_on_the_command_line_and_in_the_comment(
        shared: Any, cli: Callable[..., Result]) -> None:
    repo, _ = shared
    out = repo.path.parent / "cli-out"
    result = cli("test", "p/unknown", "p/declared", "--out", out, cwd=repo.path)
    assert result.code == 1
    assert "failed    unknown" in result.out and "passed    declared" in result.out
    assert "unknown: p/unknown/requirements.txt could not be resolved: " in result.out
    assert BROKEN["unknown"][1] in result.out
    comment = cli("comment", "--report", out, "--dry-run", cwd=repo.path)
    assert comment.code == 0 and BROKEN["unknown"][1] in comment.out


def test_a_second_run_reuses_the_env_without_uv(shared: Any, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    repo, _ = shared

    def no_subprocess(cmd: list[str], *args: Any) -> str:
        raise AssertionError(f"ran {cmd}")

    monkeypatch.setattr(envs, "_run", no_subprocess)
    [package] = [p for p in discover(repo.path) if p.name == "declared"]
    lock = envs.lock_for(package, python=envs.running_python(), environ={})
    env = envs.ensure_env(lock, environ={})
    assert env.reused  # and no uv or pip call (no_subprocess): the cost is a marker read
    reports = run(repo, names=("declared",), out=tmp_path / "out")
    assert reports["declared"]["status"] == "passed", reports["declared"]
    assert "environment" not in (tmp_path / "out" / "declared.log").read_text()


def test_the_escape_hatch_runs_on_dvbuilds_own_interpreter(shared: Any, tmp_path: Path) -> None:
    repo, _ = shared
    reports = run(repo, {**os.environ, envs.SHARED_ENV: "1"}, names=("declared",),
                  out=tmp_path / "out")
    error = reports["declared"]["notebooks"][0]["error"]
    assert error["ename"] == "ModuleNotFoundError", reports["declared"]
    assert not (tmp_path / "out" / "declared" / envs.LOCK_FILE).exists()


def test_parallel_builds_of_one_env_make_it_once(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    add(repo, "one", f"{MODULE}==0.12.0\n", "x = 1")
    repo.commit()
    [package] = discover(repo.path)
    environ = {**os.environ, envs.CACHE_ENV: str(tmp_path / "cache")}
    lock = envs.lock_for(package, python=envs.running_python(), environ=environ)
    builds: list[Path] = []
    real = envs._build

    def failing(final: Path, *args: Any) -> None:
        monkeypatch.setattr(envs, "_install_dvbuild", broken_install)
        real(final, *args)

    def broken_install(*args: Any) -> None:
        raise envs.EnvError("interrupted")

    monkeypatch.setattr(envs, "_build", failing)
    with pytest.raises(envs.EnvError, match="could not be installed: interrupted"):
        envs.ensure_env(lock, environ=environ)
    assert [p.name for p in (tmp_path / "cache" / "envs").iterdir()] == [f"{lock.sha256[:16]}.lock"]
    monkeypatch.undo()

    def counted(final: Path, *args: Any) -> None:
        builds.append(final)
        real(final, *args)

    monkeypatch.setattr(envs, "_build", counted)
    made: list[envs.Env] = []
    threads = [threading.Thread(target=lambda: made.append(envs.ensure_env(lock, environ=environ)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len({e.path for e in made}) == 1 and len(made) == 3
    python = made[0].python
    version = subprocess.run([python, "-c", f"import {MODULE}, dvbuild; print({MODULE}.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == "0.12.0"
    spec = json.loads((made[0].jupyter_path / "kernels" / envs.KERNEL / "kernel.json").read_text())
    assert spec["argv"][0] == str(python)


def test_dvbuilds_requirements_follow_the_image_extras() -> None:
    names = {r.split("[")[0].split(">")[0].split("=")[0].split("<")[0]
             for r in envs.dvbuild_requirements(["s3", "elastic"])}
    assert {"papermill", "ipykernel", "boto3", "elasticsearch"} <= names
    assert "pandas" not in names and "pytest" not in names
    assert "uv" not in names  # the host's tool: no environment or image carries its wheel
    assert "pandas" in {r.split(">")[0] for r in envs.dvbuild_requirements(["all"])}


def test_the_machines_pip_index_is_handed_to_uv() -> None:
    mirror = "https://mirror.invalid/simple"
    mapped = envs.uv_environ({**os.environ, "PIP_INDEX_URL": mirror})
    assert mapped["UV_DEFAULT_INDEX"] == mirror
    own = {**os.environ, "PIP_INDEX_URL": mirror, "UV_INDEX_URL": "https://uv.invalid/simple"}
    assert "UV_DEFAULT_INDEX" not in envs.uv_environ(own)


def test_pip_pins_the_same_way_without_uv(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(f"{MODULE}==0.12.1\n")
    pins = envs._pip_compile(["requirements.txt"], tmp_path, tmp_path / "report.json", {})
    assert pins == f"{MODULE}==0.12.1\n"


def test_a_resolvers_message_on_one_line() -> None:
    text = ("error: Couldn't parse requirement in `requirements.txt` at position 0\n"
            "  Caused by: no such comparison operator \">>=\"\n"
            "toolz>>=1\n     ^^^^\n")
    assert envs.one_line(text) == ("Couldn't parse requirement in `requirements.txt` at position 0: "
                                   "no such comparison operator \">>=\": toolz>>=1")


def test_python_notebooks_run_on_the_packages_kernel(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat

    from dvbuild.notebooks.engine import choose_kernel

    for name, language in (("laptop-py", "python"), ("ir", "R")):
        spec = tmp_path / "kernels" / name
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({"argv": ["x"], "display_name": name,
                                                      "language": language}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))

    def choose(kernel: str) -> tuple[str, list[str]]:
        return choose_kernel(nbformat.reads(notebook("x = 1", kernel=kernel), as_version=4),
                             "main.ipynb", envs.KERNEL)

    assert choose("python3") == (envs.KERNEL, [])
    assert choose("ir") == ("ir", [])
    assert choose("laptop-py")[0] == envs.KERNEL and "is a Python kernel" in choose("laptop-py")[1][0]
    assert choose("conda-env-gone")[0] == envs.KERNEL


def fake_env(folder: Path, name: str, age_days: float, now: float) -> Path:
    """An env folder as ensure_env leaves it (marker last), last used `age_days` ago."""
    env = folder / "envs" / name
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").write_text("")
    (env / envs.MARKER).write_text(json.dumps({"format": envs.FORMAT}))
    os.utime(env / envs.MARKER, (now - age_days * 86400,) * 2)
    return env


def test_environments_unused_for_a_month_are_pruned_once_a_day(tmp_path: Path) -> None:
    import time

    now = time.time()
    environ = {envs.CACHE_ENV: str(tmp_path)}
    old, fresh = fake_env(tmp_path, "a" * 16, 31, now), fake_env(tmp_path, "b" * 16, 20, now)
    crashed = tmp_path / "envs" / ".cccc-x1"  # a build a crash left, two days ago
    crashed.mkdir()
    os.utime(crashed, (now - 2 * 86400,) * 2)
    (tmp_path / "locks").mkdir()
    stale, recent = tmp_path / "locks" / "old.txt", tmp_path / "locks" / "new.txt"
    for lock, days in ((stale, 40), (recent, 1)):
        lock.write_text("toolz==1\n")
        os.utime(lock, (now - days * 86400,) * 2)
    said: list[str] = []
    assert envs.prune(environ, now=now, log=said.append) == ["a" * 16]
    assert not old.exists() and fresh.is_dir() and not crashed.exists()
    assert not stale.exists() and recent.is_file()
    assert said and "removed 1 unused for 30 days" in said[0]
    assert [p.name for p in (tmp_path / "envs").iterdir() if p.is_dir()] == ["b" * 16]
    # a second run the same day does not look again; a day later it does
    again = fake_env(tmp_path, "c" * 16, 60, now)
    assert envs.prune(environ, now=now + 60) == []
    assert again.is_dir()
    assert envs.prune(environ, now=now + envs.PRUNE_EVERY + 60) == ["c" * 16]


def test_using_an_environment_keeps_it_and_zero_keeps_everything(tmp_path: Path) -> None:
    import time

    now = time.time()
    environ = {envs.CACHE_ENV: str(tmp_path)}
    assert envs.prune({**environ, envs.MAX_AGE_ENV: "0"}, now=now) == []
    env = fake_env(tmp_path, "d" * 16, 45, now)
    envs._used(env / envs.MARKER)  # what ensure_env does each time it hands the env out
    assert envs.prune(environ, now=now) == []
    assert env.is_dir()
    with pytest.raises(Exception, match="not a whole number of days"):
        envs.prune({**environ, envs.MAX_AGE_ENV: "a month"}, now=now + 2 * envs.PRUNE_EVERY)


def test_a_real_environment_is_marked_used_each_time_it_is_handed_out(tmp_path: Path) -> None:
    environ = {**os.environ, envs.CACHE_ENV: str(tmp_path / "cache")}
    repo = make_repo(tmp_path / "repo")
    add(repo, "plain", None, "x = 1")
    package = discover(repo.path)[0]
    lock = envs.lock_for(package, python=envs.running_python(), environ=environ)
    env = envs.ensure_env(lock, environ=environ)
    marker = env.path / envs.MARKER
    os.utime(marker, (1.0, 1.0))
    os.utime(lock.path, (1.0, 1.0))
    envs.ensure_env(envs.lock_for(package, python=envs.running_python(), environ=environ),
                    environ=environ)
    assert marker.stat().st_mtime > 1.0 and lock.path.stat().st_mtime > 1.0
