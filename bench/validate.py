"""How long `dvbuild validate` takes on a 1,000-package monorepo (target: under 2 s).

    .venv/bin/python bench/validate.py [--packages N] [--slow-share 0.1]

Builds a throwaway git repository with N realistic packages (a schedule,
parameters, two resources with Table Schemas, a license), then times the whole
command as a user runs it (a fresh process: start-up and imports included),
plus the same with a share of descriptors that need frictionless itself (v2
`$schema`), which measures the slow path.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def descriptor(i: int, slow: bool) -> dict[str, object]:
    fields = [{"name": "maaned", "type": "string"}, {"name": "fylke", "type": "string"},
              {"name": "antall", "type": "integer"}, {"name": "prosent", "type": "number"}]
    d: dict[str, object] = {
        "name": f"pakke-{i:04d}", "title": f"Pakke {i}", "description": "Benchmark package",
        "version": "1.0.0", "keywords": ["bench"], "licenses": [{"name": "CC-BY-4.0"}],
        "schedule": "15 6 * * 1-5", "timezone": "Europe/Oslo",
        "parameters": {"maaneder": 12}, "test_parameters": {"maaneder": 2}, "timeout": 900,
        "secrets": {"DB_PASSWORD": "vault:kv/team/db#password"},
        "job": {"team": "bench", "resources": {"cpu": "100m", "memory": "256Mi"}},
        "resources": [
            {"name": "tabell", "path": "data/tabell.csv", "format": "csv",
             "schema": {"fields": fields}},
            {"name": "trend", "path": "data/trend.parquet", "format": "parquet",
             "bytes": 1234, "hash": "sha256:" + "0" * 64, "rows": 12,
             "schema": {"fields": fields[:3]}},
        ],
    }
    if slow:
        d["$schema"] = "https://datapackage.org/profiles/2.0/datapackage.json"
    return d


def make_repo(root: Path, n: int, slow_share: float) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    every = int(1 / slow_share) if slow_share else 0
    for i in range(n):
        folder = root / "packages" / f"pakke-{i:04d}"
        folder.mkdir(parents=True)
        slow = bool(every) and i % every == 0
        (folder / "datapackage.json").write_text(json.dumps(descriptor(i, slow), indent=2))
        (folder / "main.ipynb").write_text(NOTEBOOK)


def run(root: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code) of one `dvbuild validate` process."""
    dvbuild = Path(sys.executable).with_name("dvbuild")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([str(dvbuild), "validate", "--repo", str(root)], capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    return elapsed, cpu, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--slow-share", type=float, default=0.1)
    args = parser.parse_args()
    for share in (0.0, args.slow_share):
        with tempfile.TemporaryDirectory() as tmp:
            make_repo(Path(tmp), args.packages, share)
            runs = [run(Path(tmp)) for _ in range(3)]
            best = min(r[0] for r in runs)
            cpu = min(r[1] for r in runs)
            print(f"validate {args.packages} packages ({share:.0%} need frictionless): "
                  f"best {best:.2f} s wall, {cpu:.2f} s CPU, of {len(runs)} runs "
                  f"(exit {runs[-1][2]}; load {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} CPUs) {'OK' if best < 2 else 'SLOWER THAN 2 s'}")


if __name__ == "__main__":
    main()
