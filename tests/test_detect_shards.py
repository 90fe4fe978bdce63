"""Past --max-jobs packages detect's matrix holds shards, balanced by last run durations."""

from __future__ import annotations

import itertools
import json
import os
import random
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from dvbuild.catalogs.file import FileCatalog
from dvbuild.catalogs.runs import run_document
from dvbuild.detect.cli import Options, parse_fast
from dvbuild.detect.shards import DEFAULT_DURATION, balance, with_defaults
from tests.conftest import Repo, Result
from tests.test_detect import parse_outputs

ROOT = Path(__file__).parent.parent
PACKAGES = 1000
OUTPUT_LIMIT = 1024 * 1024  # GitHub: a job's outputs together at most 1 MB


# -- balance (pure) ---------------------------------------------------------------------------


def loads(shards: list[Any], durations: Mapping[str, float]) -> list[float]:
    return [sum(durations[p] for p in s.paths) for s in shards]


def optimum(durations: Mapping[str, float], n: int) -> float:
    """The best possible longest shard, by trying every assignment (small cases only)."""
    items = list(durations.values())
    best = float("inf")
    for assignment in itertools.product(range(n), repeat=len(items)):
        bins = [0.0] * n
        for item, b in zip(items, assignment, strict=True):
            bins[b] += item
        best = min(best, max(bins))
    return best


@pytest.mark.parametrize("seed", range(20))
def test_longest_shard_is_within_one_package_of_the_optimum(seed: int) -> None:
    rng = random.Random(seed)
    durations = {f"p/{i}": rng.choice([1, 5, 30, 600]) * rng.random() + 0.1 for i in range(8)}
    shards = balance(durations, 3)
    assert max(loads(shards, durations)) <= optimum(durations, 3) + max(durations.values())


def test_large_balance_is_near_the_lower_bound() -> None:
    rng = random.Random(7)
    durations = {f"packages/p{i:04d}": rng.lognormvariate(3, 1.2) for i in range(5000)}
    shards = balance(durations, 64)
    bound = max(sum(durations.values()) / 64, max(durations.values()))
    assert max(loads(shards, durations)) <= bound + max(durations.values())
    assert max(loads(shards, durations)) <= bound * 1.01  # many small items: LPT is near-perfect


def test_every_package_in_exactly_one_shard_and_names() -> None:
    durations = {f"packages/p{i}": float(i % 13) for i in range(300)}  # zeros too
    shards = balance(durations, 64)
    paths = [p for s in shards for p in s.paths]
    assert sorted(paths) == sorted(durations) and len(paths) == len(set(paths))
    assert [s.name for s in shards] == [f"shard-{i}-of-64" for i in range(1, 65)]
    assert all(s.paths == sorted(s.paths) and s.paths for s in shards)


def test_equal_durations_split_by_counts() -> None:
    shards = balance({f"p{i:03d}": 1.0 for i in range(130)}, 64)
    assert sorted(len(s.paths) for s in shards) == [2] * 62 + [3] * 2


def test_deterministic_whatever_the_input_order() -> None:
    durations = {f"packages/p{i}": float(i % 5) + 1 for i in range(200)}
    shuffled = dict(sorted(durations.items(), key=lambda kv: random.Random(1).random()))
    assert balance(durations, 16) == balance(shuffled, 16)


def test_fewer_packages_than_shards() -> None:
    assert [s.name for s in balance({"a": 1.0, "b": 2.0}, 64)] == ["shard-1-of-2", "shard-2-of-2"]


def test_unknown_durations_count_as_the_median() -> None:
    durations, default = with_defaults(["a", "b", "c", "d"], {"a": 10.0, "b": 20.0, "c": 90.0})
    assert default == 20.0 and durations == {"a": 10.0, "b": 20.0, "c": 90.0, "d": 20.0}
    assert with_defaults(["a"], {}) == ({"a": DEFAULT_DURATION}, DEFAULT_DURATION)


def test_parse_fast_max_jobs() -> None:
    assert parse_fast(["--max-jobs", "10"]) == Options(max_jobs=10)
    assert parse_fast(["--max-jobs=256", "--durations-from", "file:///c"]) == Options(
        max_jobs=256, durations_from="file:///c")
    for bad in ("0", "257", "300", "x", "-1", "²"):
        assert parse_fast(["--max-jobs", bad]) is None, bad  # typer reports it


# -- a 1,000-package repository -------------------------------------------------------------


def blob(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def commit(files: Mapping[str, str], message: str) -> bytes:
    """A fast-import commit on main with inline blobs (the second continues the first)."""
    out = [b"commit refs/heads/main\ncommitter T <t@example.invalid> 0 +0000\n", blob(message)]
    for path, text in files.items():
        out.append(b"M 100644 inline %s\n" % path.encode() + blob(text))
    return b"".join(out)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """1,000 packages; the second commit changes a global file, so all are selected."""
    repo = tmp_path_factory.mktemp("big")
    config = "global: [requirements-global.txt]\n"
    files = {"dvbuild.yaml": config, "requirements-global.txt": "pandas\n"}
    for i in range(PACKAGES):
        files[f"packages/team{i % 10}/pkg{i:04d}/datapackage.json"] = json.dumps(
            {"name": f"pkg{i:04d}", "resources": []})
    stream = commit(files, "initial") + commit({"requirements-global.txt": "pandas>=2\n"}, "global")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True)
    (repo / "dvbuild.yaml").write_text(config)  # settings read it from the working tree
    base, head = subprocess.run(["git", "rev-parse", "HEAD~1", "HEAD"], cwd=repo, check=True,
                                capture_output=True, text=True).stdout.split()
    return repo, base, head


def detect(cli: Callable[..., Result], big: tuple[Path, str, str], *args: str,
           env: dict[str, str] | None = None) -> dict[str, Any]:
    repo, base, head = big
    result = cli("detect", "--repo", repo, "--base", base, "--head", head, "--json", *args,
                 env=env)
    assert result.code == 0, result.err
    doc: dict[str, Any] = result.json()
    return doc


def covered(matrix: dict[str, Any]) -> list[str]:
    return [p for entry in matrix["include"] for p in entry["packages"]]


def path_of(i: int) -> str:
    return f"packages/team{i % 10}/pkg{i:04d}"


def test_global_change_yields_64_shards_covering_every_package_once(
        cli: Callable[..., Result], big: tuple[Path, str, str]) -> None:
    doc = detect(cli, big)
    assert doc["all"] is True and len(doc["packages"]) == PACKAGES
    entries = doc["matrix"]["include"]
    assert len(entries) == 64
    assert [e["name"] for e in entries] == [f"shard-{i}-of-64" for i in range(1, 65)]
    assert all(set(e) == {"name", "packages"} for e in entries)
    assert sorted(covered(doc["matrix"])) == sorted(p["path"] for p in doc["packages"])
    assert len(set(covered(doc["matrix"]))) == PACKAGES
    assert sorted(len(e["packages"]) for e in entries) == [15] * 24 + [16] * 40  # by counts
    assert any("no catalog to read run durations from" in n for n in doc["notices"])
    assert doc == detect(cli, big)  # deterministic


def test_max_jobs_chooses_the_number_of_shards(cli: Callable[..., Result],
                                               big: tuple[Path, str, str]) -> None:
    assert len(detect(cli, big, "--max-jobs", "256")["matrix"]["include"]) == 256
    assert len(detect(cli, big, "--max-jobs=1")["matrix"]["include"]) == 1


def test_shards_balance_the_catalog_durations(cli: Callable[..., Result],
                                              big: tuple[Path, str, str], tmp_path: Path) -> None:
    rng = random.Random(3)
    seconds = {path_of(i): (1500.0 if i < 5 else rng.uniform(5, 120)) for i in range(PACKAGES)}
    catalog = FileCatalog(tmp_path / "catalog")
    for i in range(PACKAGES):
        for started, status, duration in (("2024-01-01T00:00:00Z", "published", 1.0),
                                          ("2024-02-01T00:00:00Z", "published", seconds[path_of(i)]),
                                          ("2024-03-01T00:00:00Z", "failed", 0.5)):
            catalog.record_run(run_document(f"pkg{i:04d}", "1.0.0", status, started=started,
                                            finished=started, duration=duration, commit=None,
                                            input_hash=None))
    doc = detect(cli, big, env={"DVBUILD_CATALOG": catalog.url})
    totals = [sum(seconds[p] for p in e["packages"]) for e in doc["matrix"]["include"]]
    bound = max(sum(seconds.values()) / 64, max(seconds.values()))
    assert max(totals) <= bound + max(seconds.values())
    assert max(totals) <= 1.05 * bound  # the five long packages each get a shard of their own
    assert sorted(len(e["packages"]) for e in doc["matrix"]["include"])[:5] == [1] * 5
    assert any("balanced by their last run durations" in n for n in doc["notices"])
    # the newest run that ran every notebook counts: not the failed one, not the older one
    by_counts = detect(cli, big)
    counted = [sum(seconds[p] for p in e["packages"]) for e in by_counts["matrix"]["include"]]
    assert max(totals) < max(counted)


def test_packages_without_runs_count_as_the_median(cli: Callable[..., Result],
                                                   big: tuple[Path, str, str],
                                                   tmp_path: Path) -> None:
    catalog = FileCatalog(tmp_path / "catalog")
    for i in range(0, PACKAGES, 2):
        catalog.record_run(run_document(f"pkg{i:04d}", "1.0.0", "published",
                                        started="2024-01-01T00:00:00Z",
                                        finished="2024-01-01T00:01:00Z", duration=60.0,
                                        commit=None, input_hash=None))
    doc = detect(cli, big, "--durations-from", catalog.url)
    assert "500 of 1000 packages have no finished run in the catalog: each counted as 60 s " \
           "(the median of the others)" in doc["notices"]
    assert sorted(covered(doc["matrix"])) == sorted(path_of(i) for i in range(PACKAGES))


def test_unreachable_catalog_falls_back_to_counts(cli: Callable[..., Result],
                                                 big: tuple[Path, str, str]) -> None:
    doc = detect(cli, big, "--durations-from", "http://user:secret@127.0.0.1:1")
    assert any(n.startswith("cannot read run durations: http://127.0.0.1:1: cannot reach")
               for n in doc["notices"]), doc["notices"]
    assert not any("secret" in n for n in doc["notices"])
    assert doc["notices"][-2].endswith("64 shards, balanced by package counts")
    assert len(doc["matrix"]["include"]) == 64


def test_packages_that_fit_read_no_catalog_and_import_nothing_new(
        make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(commit=False)
    for name in ("a", "b", "c"):
        repo.write_package(f"packages/{name}")
    repo.commit()
    code = ("import json, sys; from dvbuild.cli import main; code = main(sys.argv[1:]); "
            "print(json.dumps(sorted(m for m in sys.modules if 'shards' in m or "
            "'catalogs' in m or m in ('statistics', 'heapq'))), file=sys.stderr); sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", code, "detect", "--repo", str(repo.path), "--all",
                           "--json", "--max-jobs", "3", "--durations-from", "http://127.0.0.1:1"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [e["packages"] for e in doc["matrix"]["include"]] == [
        ["packages/a"], ["packages/b"], ["packages/c"]]
    assert not any("durations" in n for n in doc["notices"])
    assert json.loads(proc.stderr.splitlines()[-1]) == []


@pytest.mark.parametrize("value", ["300", "0", "many"])
def test_max_jobs_out_of_range_is_a_usage_error(cli: Callable[..., Result],
                                                big: tuple[Path, str, str], value: str) -> None:
    result = cli("detect", "--repo", big[0], "--max-jobs", value)
    assert result.code == 2
    assert "--max-jobs" in result.err


def test_step_outputs_stay_within_github_limits(cli: Callable[..., Result],
                                                big: tuple[Path, str, str],
                                                tmp_path: Path) -> None:
    out = tmp_path / "github_output"
    out.write_text("")
    repo, base, head = big
    result = cli("detect", "--repo", repo, "--base", base, "--head", head,
                 env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out)})
    assert result.code == 0, result.err
    assert "::notice::1000 packages, more than --max-jobs 64: 64 shards" in result.out + result.err
    values = parse_outputs(out.read_text())
    matrix = json.loads(values["matrix"])
    assert len(matrix["include"]) == 64 and len(set(covered(matrix))) == PACKAGES
    assert len(json.loads(values["packages"])) == PACKAGES and values["any"] == "true"
    assert sum(len(v.encode()) for v in values.values()) < OUTPUT_LIMIT
    assert len(values["matrix"].encode()) < 64 * 1024  # ~40 bytes a package


# -- the action takes a shard --------------------------------------------------------------


@pytest.fixture
def fake_venv(tmp_path: Path) -> Path:
    """A venv whose `dvbuild` records its arguments (one JSON list a line)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    script = venv / "bin" / "dvbuild"
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                      "with open(os.environ['DVBUILD_CALLS'], 'a') as f:\n"
                      "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return venv


def run_sh(venv: Path, tmp_path: Path, **env: str) -> list[list[str]]:
    calls = tmp_path / "calls"
    calls.write_text("")
    proc = subprocess.run(["bash", str(ROOT / "actions" / "run.sh")], cwd=tmp_path,
                          env={"PATH": os.environ["PATH"], "DVBUILD_VENV": str(venv),
                               "DVBUILD_CALLS": str(calls),
                               "DVBUILD_REPORT_DIR": str(tmp_path / "report"), **env},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in calls.read_text().splitlines()]


def test_the_test_action_takes_a_shard_entry(fake_venv: Path, tmp_path: Path) -> None:
    entry = {"name": "shard-2-of-64",
             "packages": ["packages/a b, c", "packages/$(touch x)", "packages/new\nline"]}
    for given in (json.dumps(entry), json.dumps(entry["packages"])):  # toJSON(matrix.packages)
        calls = run_sh(fake_venv, tmp_path, DVBUILD_COMMAND="test", DVBUILD_PACKAGES=given)
        test = next(c for c in calls if c[0] == "test")
        assert test[test.index("--") + 1:] == entry["packages"]
    single = {"name": "a", "path": "packages/a", "packages": ["packages/a"]}
    calls = run_sh(fake_venv, tmp_path, DVBUILD_COMMAND="test", DVBUILD_PACKAGES=json.dumps(single))
    assert calls[0][-2:] == ["--", "packages/a"]
    assert not (tmp_path / "x").exists()


def test_the_detect_action_passes_max_jobs(fake_venv: Path, tmp_path: Path) -> None:
    calls = run_sh(fake_venv, tmp_path, DVBUILD_COMMAND="detect", DVBUILD_MAX_JOBS="16")
    assert calls == [["detect", "--max-jobs", "16"]]
    calls = run_sh(fake_venv, tmp_path, DVBUILD_COMMAND="detect")
    assert calls == [["detect"]]
