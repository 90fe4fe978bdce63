"""dvbuild test --jobs 2 on 8 trivial packages, versus papermill in a shell loop.

    .venv/bin/python bench/testrun.py [--packages 8] [--jobs 2]

Prints both wall times and their ratio (target: dvbuild <= 0.6x the loop).
The loop is what a CI script without dvbuild does: one `papermill` process per
notebook, each importing papermill and starting its own kernel. dvbuild runs
packages in parallel worker processes that import everything once.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent


def trivial_notebook() -> str:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("rows = 10")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params,
                nbformat.v4.new_code_cell("data = [(i, i * i) for i in range(rows)]"),
                nbformat.v4.new_code_cell("open('squares.csv', 'w').write('n,sq\\n' + "
                                          "''.join(f'{a},{b}\\n' for a, b in data))")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return str(nbformat.writes(nb))


def make_repo(root: Path, count: int) -> list[Path]:
    folders = []
    for i in range(count):
        folder = root / "packages" / f"pkg{i}"
        folder.mkdir(parents=True)
        (folder / "main.ipynb").write_text(trivial_notebook())
        (folder / "datapackage.json").write_text(json.dumps({
            "name": f"pkg{i}", "test_parameters": {"rows": 5},
            "resources": [{"name": "squares", "path": "squares.csv"}]}))
        folders.append(folder)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    return folders


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        folders = make_repo(root, args.packages)
        loop_out = Path(tmp) / "loop"
        loop_out.mkdir()
        script = "; ".join(
            f"(cd {shlex.quote(str(f))} && {shlex.quote(str(BIN / 'papermill'))} -p rows 5 "
            f"main.ipynb {shlex.quote(str(loop_out / f.name))}.ipynb --no-progress-bar -k python3)"
            for f in folders)
        loop = timed(["bash", "-c", f"set -e; {script}"], root)
        ours = timed([str(BIN / "dvbuild"), "test", "--repo", str(root), "--out",
                      str(Path(tmp) / "out"), "--jobs", str(args.jobs)], root)
    print(f"papermill shell loop ({args.packages} notebooks): {loop:6.2f} s")
    print(f"dvbuild test --jobs {args.jobs}:              {ours:6.2f} s  "
          "(plus HTML, script, resource checks, reports)")
    print(f"ratio: {ours / loop:.2f}x (target <= 0.6x)")


if __name__ == "__main__":
    main()
