"""How long does `dvbuild build` take for the example package, cold and warm?

Starts a private Docker engine (as the tests do: tests/services/docker.py, with
the cached debootstrapped base image, since nothing may be pulled here), copies
examples/monorepo into a fresh git repository and prints the wall time of

  1. a cold build (empty engine: every layer, the lock's uv install included; target <= 15 s),
  2. a rebuild after a notebook-only change (target <= 1 s),
  3. a rebuild with no change (skipped: target <= 0.5 s).

The package's lock (notebooks/envs.py) is resolved once before the cold build, as
`dvbuild test` would have done: the figures are the image's.

    .venv/bin/python bench/build.py [--package arbeidsledighet] [--keep DIR]

Needs root (dockerd), docker.io, debootstrap and PyPI. Pass DOCKER_HOST to use a
running engine instead; its base image then comes from --base-image.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services.docker import import_base_image, running_dockerd  # noqa: E402

DVBUILD = [sys.executable, "-m", "dvbuild.cli"]


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def make_repo(work: Path, base_image: str) -> Path:
    repo = work / "monorepo"
    shutil.copytree(ROOT / "examples" / "monorepo", repo)
    config = repo / "dvbuild.yaml"
    config.write_text(config.read_text() + f"\nbase_image: {base_image}\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "example")
    return repo


def build(repo: Path, package: str, env: dict[str, str]) -> tuple[float, dict[str, object]]:
    started = time.monotonic()
    proc = subprocess.run([*DVBUILD, "build", "--repo", str(repo), "--json",
                           str(repo / "packages" / package)],
                          capture_output=True, text=True, env=env)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"build failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return elapsed, json.loads(proc.stdout)["packages"][0]


def touch_notebook(repo: Path, package: str) -> None:
    folder = repo / "packages" / package
    notebook = sorted(folder.glob("*.ipynb"))[0]
    nb = json.loads(notebook.read_text())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["Edited."]})
    notebook.write_text(json.dumps(nb, indent=1) + "\n")
    git(repo, "commit", "-q", "-am", "notebook only")


def warm_lock(repo: Path, package: str, env: dict[str, str]) -> None:
    from dvbuild.notebooks import envs
    from dvbuild.package import load_package

    envs.lock_for(load_package(repo / "packages" / package, repo), environ=env)


def wheel(work: Path) -> Path:
    from dvbuild.image.context import dvbuild_wheel

    return dvbuild_wheel(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="arbeidsledighet")
    parser.add_argument("--base-image", help="with DOCKER_HOST: the base image to build on")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temp folder)")
    args = parser.parse_args()
    with ExitStack() as stack:
        work = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        work.mkdir(parents=True, exist_ok=True)
        host = os.environ.get("DOCKER_HOST")
        if host:
            base = args.base_image or "python:3.11-slim"
        else:
            host = stack.enter_context(running_dockerd(work / "dockerd"))
            base = import_base_image(host)
        env = {**os.environ, "DOCKER_HOST": host, "DVBUILD_WHEEL": str(wheel(work / "wheel"))}
        repo = make_repo(work, base)
        warm_lock(repo, args.package, env)
        figures = []
        for label, change in (("cold build", None), ("notebook-only rebuild", touch_notebook),
                              ("no-change rebuild", None)):
            if change is not None:
                change(repo, args.package)
            seconds, doc = build(repo, args.package, env)
            figures.append(seconds)
            print(f"{label:24} {seconds:7.1f} s  ({doc['status']})", flush=True)
        cold, notebook, same = figures
        print(f"{'targets':24} cold <= 15 s: {cold <= 15}, notebook-only <= 1 s: {notebook <= 1}, "
              f"no-change <= 0.5 s: {same <= 0.5}")


if __name__ == "__main__":
    main()
