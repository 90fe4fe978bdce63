"""How much does `dvbuild detect` cost on top of the git calls it needs?

Builds a 5,000-package, 25,000-file repository (git fast-import), changes two
packages, then prints the median wall time of

  dvbuild detect --base B --head H --json   (the installed console script)

against a bare `python -c` that runs `git diff-tree` and `git ls-tree` for the
same refs, and their ratio (target: <= 2).

    .venv/bin/python bench/detect.py [--packages 5000] [--runs 21] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# pip compiles .pyc files when it installs dvbuild; an editable checkout under
# PYTHONDONTWRITEBYTECODE=1 would recompile every module on every run instead.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
FILES_PER_PACKAGE = 5  # datapackage.json + 4 files
BASELINE = (
    "import subprocess, sys; b, h = sys.argv[1:3]; "
    "subprocess.run(['git', 'diff-tree', '-r', '-z', '--no-renames', '--name-only', b, h], "
    "capture_output=True, check=True); "
    "subprocess.run(['git', 'ls-tree', '-r', '-z', '--full-tree', h], capture_output=True, check=True)"
)


def data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def package_files(i: int) -> dict[str, str]:
    folder = f"packages/team{i % 50:02d}/pkg{i}"
    descriptor = {"name": f"pkg{i}", "title": f"Package {i}", "resources": [
        {"name": "data", "path": "data.csv"}]}
    if i % 10 == 0:
        descriptor["depends_on"] = ["shared/lib"]
    return {
        f"{folder}/datapackage.json": json.dumps(descriptor, indent=2),
        f"{folder}/main.ipynb": json.dumps({"cells": [], "metadata": {"i": i}}),
        f"{folder}/README.md": f"# Package {i}\n",
        f"{folder}/requirements.txt": f"pandas=={i % 3}.0\n",
        f"{folder}/sql/query.sql": f"select {i}\n",
    }


def commit_stream(files: dict[str, str], message: str) -> bytes:
    """A fast-import commit on main (the second one continues from the first)."""
    out = []
    for n, content in enumerate(files.values(), start=1):
        out.append(b"blob\nmark :%d\n" % n + data(content))
    out.append(b"commit refs/heads/main\ncommitter Bench <bench@example.invalid> 0 +0000\n")
    out.append(data(message))
    for n, path in enumerate(files, start=1):
        out.append(b"M 100644 :%d %s\n" % (n, path.encode()))
    return b"".join(out)


def build(repo: Path, packages: int) -> tuple[str, str]:
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    files = {"dvbuild.yaml": "global: [requirements-global.txt]\nignore: ['**/*.md']\n",
             "requirements-global.txt": "pandas\n", "shared/lib/util.py": "X = 1\n"}
    for i in range(packages):
        files.update(package_files(i))
    changed = {"packages/team01/pkg1/main.ipynb": '{"cells": [1]}',
               "packages/team02/pkg2/sql/query.sql": "select 'changed'\n"}
    stream = commit_stream(files, "initial") + commit_stream(changed, "change")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True)
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=repo, check=True)
    rev = subprocess.run(["git", "rev-parse", "HEAD~1", "HEAD"], cwd=repo, check=True,
                         capture_output=True, text=True).stdout.split()
    return rev[0], rev[1]


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + sys of the command and its git children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def compare(ours: list[str], bare: list[str], cwd: Path, runs: int) -> dict[str, float]:
    """Medians of both, run alternately so a busy machine slows both alike, and the
    median of the per-pair ratios."""
    walls: dict[str, list[float]] = {"ours": [], "bare": [], "ratio": []}
    cpus: dict[str, list[float]] = {"ours": [], "bare": [], "ratio": []}
    for _ in range(runs):
        (ow, oc), (bw, bc) = timed(ours, cwd), timed(bare, cwd)
        for store, o, b in ((walls, ow, bw), (cpus, oc, bc)):
            store["ours"].append(o)
            store["bare"].append(b)
            store["ratio"].append(o / b)
    result = {f"wall_{k}": statistics.median(v) for k, v in walls.items()}
    result.update({f"cpu_{k}": statistics.median(v) for k, v in cpus.items()})
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    parser.add_argument("--reuse", type=Path, help="a repository --keep built before")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dvbuild-bench-"))
    repo = args.keep or tmp / "repo"
    try:
        if args.reuse:
            repo = args.reuse
            base, head = subprocess.run(["git", "rev-parse", "HEAD~1", "HEAD"], cwd=repo, check=True,
                                        capture_output=True, text=True).stdout.split()
        else:
            base, head = build(repo, args.packages)
        dvbuild = str(Path(sys.executable).parent / "dvbuild")
        check = subprocess.run([dvbuild, "detect", "--base", base, "--head", head, "--json"],
                               cwd=repo, check=True, capture_output=True, text=True, env=ENV)
        found = [p["name"] for p in json.loads(check.stdout)["packages"]]
        assert found == ["pkg1", "pkg2"], found
        ours = [dvbuild, "detect", "--base", base, "--head", head, "--json"]
        bare = [sys.executable, "-c", BASELINE, base, head]
        r = compare(ours, bare, repo, args.runs)
        files = args.packages * FILES_PER_PACKAGE + 3
        print(f"repository: {args.packages} packages, {files} files; change: 2 packages")
        print(f"median of {args.runs} alternating runs   wall ms   cpu ms")
        print(f"dvbuild detect --json:           {r['wall_ours'] * 1000:7.1f}  {r['cpu_ours'] * 1000:7.1f}")
        print(f"python -c + diff-tree + ls-tree: {r['wall_bare'] * 1000:7.1f}  {r['cpu_bare'] * 1000:7.1f}")
        print(f"ratio (target <= 2):             {r['wall_ratio']:7.2f}  {r['cpu_ratio']:7.2f}")
        imports = compare([sys.executable, "-c", "import dvbuild.detect.cli, yaml"],
                          [sys.executable, "-c", "import subprocess"], repo, args.runs)
        print(f"of which Python imports (dvbuild.detect.cli + yaml vs subprocess): "
              f"{imports['wall_ours'] * 1000:.1f} vs {imports['wall_bare'] * 1000:.1f} ms wall, "
              f"{imports['cpu_ours'] * 1000:.1f} vs {imports['cpu_bare'] * 1000:.1f} ms cpu")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
