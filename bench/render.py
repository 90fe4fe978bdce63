"""Render and validate 1,000 packages' manifests (goal: under 3 s), and print the figures.

    .venv/bin/python bench/render.py [N]

Packages are built in memory (varied names, schedules, resources, env, secrets and
a hostile description); the image is given, as `--image` would, so the figure is
rendering + schema validation + writing, not git. The first figure of a kind includes
getting its compiled schema once: from the user cache dir if an earlier run left it
there, else compiled (run with XDG_CACHE_HOME=$(mktemp -d) for a first-ever run).
The last lines time getting each schema's validator on its own: compiled from the
schema files, then written to and read back from an empty cache folder.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from dvbuild import manifests
from dvbuild.package import Package
from dvbuild.schemas import compiled
from dvbuild.settings import GitHubContext, RepoConfig, Settings

SCHEDULES = ["@daily", "15 6 * * 1-5", "*/10 * * * *", "0 3 1 * *", "30 22 * * sun"]


def packages(root: Path, n: int) -> list[Package]:
    out = []
    for i in range(n):
        name = f"pakke_{i}." + "x" * (i % 70)
        descriptor = {
            "name": name, "schedule": SCHEDULES[i % len(SCHEDULES)],
            "description": f'Line one: "{i}"\n---\nkind: Secret {{{{ x }}}} 😀',
            "job": {"resources": {"cpu": 0.25 * (1 + i % 4), "memory": f"{1 + i % 8}Gi"},
                    "env": {"LEVEL": i, "DEBUG": i % 2 == 0}},
            "secrets": {"TOKEN": "env:API_TOKEN", "DB": f"vault:kv/prod/db{i % 3}#pw"},
        }
        out.append(Package(name=name, path=f"packages/p{i}", folder=root / f"p{i}",
                           descriptor=descriptor))
    return out


def main(n: int = 1000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(
            root=root, git_root=root, github=GitHubContext(), environ={},
            config=RepoConfig(store="s3://data/prod", catalog="https://es.example.com:9200",
                              registry="ghcr.io/team", naisjob={"team": "dataplatform"},
                              vault={"address": "https://vault.example.com"}))
        pkgs = packages(root, n)
        for kind in manifests.KINDS:
            # first into an empty OUT (including compiling the schema), then again into
            # the full one (every file there is read, to find manifests to replace)
            for run in ("empty OUT", "full OUT"):
                out = root / f"out-{kind}"
                start, cpu = time.perf_counter(), time.process_time()
                written = manifests.render_packages(settings, pkgs, out, image="img:{name}",
                                                    kind=kind)
                took, cpu = time.perf_counter() - start, time.process_time() - cpu
                assert len(written) == n
                print(f"{kind:8} {run:9}: {n} manifests rendered+validated+written in {took:.2f} s "
                      f"({took / n * 1000:.2f} ms each; {cpu:.2f} s CPU)")

    print(f"schema cache: {compiled.cache_dir()}")
    schema_figures()


def schema_figures() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for kind in manifests.KINDS:
            for how, cache in (("compiled", None), ("compiled+cached", Path(tmp)),
                               ("from cache", Path(tmp))):
                start, cpu = time.perf_counter(), time.process_time()
                compiled.load(kind, cache)
                took, cpu = time.perf_counter() - start, time.process_time() - cpu
                print(f"{kind:8} schema {how:15}: {took:.3f} s ({cpu:.3f} s CPU)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
