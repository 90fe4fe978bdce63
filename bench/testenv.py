"""`dvbuild test` of one package needing pandas + pyarrow, in its own environment.

    .venv/bin/python bench/testenv.py [--repeat 3]

Prints three wall times: the first run (cold: an empty env cache and an empty uv
cache, so the lock is resolved and every wheel downloaded from the machine's
index), the second (the cached lock and env: nothing resolved or installed), and
the same package with DVBUILD_SHARED_ENV=1 (on dvbuild's own interpreter, which
has pandas and pyarrow from its `data` extra). Target: the cached env adds
<= 1 s per package over the shared run. The cached and shared runs are repeated
(median shown): one kernel start on a busy machine varies by a second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent
REQUIREMENTS = "pandas>=2\npyarrow>=15\n"  # as the example monorepo's packages


def make_repo(root: Path) -> None:
    folder = root / "packages" / "tabell"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import pandas as pd, pyarrow"),
                nbformat.v4.new_code_cell("pd.DataFrame({'n': range(10)}).to_parquet('t.parquet')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (folder / "main.ipynb").write_text(nbformat.writes(nb))
    (folder / "requirements.txt").write_text(REQUIREMENTS)
    (folder / "datapackage.json").write_text(json.dumps({
        "name": "tabell", "resources": [{"name": "t", "path": "t.parquet", "format": "parquet"}]}))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=root, check=True)


def timed(root: Path, out: Path, environ: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "dvbuild"), "test", "--repo", str(root), "--out", str(out)],
                          cwd=root, env=environ, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"dvbuild test failed\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        make_repo(root)
        # an empty dvbuild env cache and an empty uv cache: a new CI runner without a cache
        environ = {**os.environ, "DVBUILD_ENV_CACHE": f"{tmp}/envs", "UV_CACHE_DIR": f"{tmp}/uv"}
        environ.pop("DVBUILD_SHARED_ENV", None)
        cold = timed(root, Path(tmp) / "out", environ)
        cached = [timed(root, Path(tmp) / "out", environ) for _ in range(args.repeat)]
        shared = [timed(root, Path(tmp) / "out", {**environ, "DVBUILD_SHARED_ENV": "1"})
                  for _ in range(args.repeat)]
    median_cached, median_shared = statistics.median(cached), statistics.median(shared)
    print(f"first run (cold env, empty uv cache): {cold:6.2f} s")
    print(f"second run (cached env):              {median_cached:6.2f} s  "
          f"(runs: {', '.join(f'{t:.2f}' for t in cached)})")
    print(f"shared environment:                   {median_shared:6.2f} s  "
          f"(runs: {', '.join(f'{t:.2f}' for t in shared)})")
    print(f"cached env over shared: {median_cached - median_shared:+.2f} s per package "
          "(target: <= 1 s)")


if __name__ == "__main__":
    main()
