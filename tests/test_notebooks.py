"""Test runs on real kernels: parameters, timeouts, dead kernels, big outputs, resources,
secrets masked in every artifact, depends_on imports, the CLI's output and exit codes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from dvbuild import notebooks
from dvbuild.package import discover
from dvbuild.settings import load_settings
from tests.conftest import Repo

SECRET = "s3cr3t-Value-9f8e7d"
# what a notebook importing pandas declares: each package runs in its own environment
# (notebooks/envs.py); the example monorepo's packages declare the same, so they share one
DATA_REQUIREMENTS = "pandas>=2\npyarrow>=15\n"


def notebook(*cells: str, params: str | None = None, kernel: str | None = "python3") -> str:
    nb = nbformat.v4.new_notebook()
    if params is not None:
        cell = nbformat.v4.new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    if kernel:
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return str(nbformat.writes(nb))


def run(repo: Repo, out: Path, environ: dict[str, str] | None = None,
        **kw: Any) -> dict[str, dict[str, Any]]:
    settings = load_settings(repo.path, environ=environ or {})
    reports = notebooks.test_packages(settings, discover(repo.path), out, **kw)
    return {r["package"]: r for r in reports}


def build(repo: Repo) -> None:
    """Every scenario as its own package in one repository, run once (jobs=2)."""
    repo.write("p/a/main.ipynb", notebook(
        "import os, pandas as pd",
        "pd.DataFrame({'n': range(rows), 'label': [label] * rows}).to_csv('out.csv', index=False)",
        "print(os.environ['DVBUILD_MODE'], os.environ['DVBUILD_PACKAGE'])",
        "assert os.environ['DVBUILD_OUTPUT_DIR'] == os.getcwd()",
        "print(open('sample/data.txt').read())",
        params="rows = 1000000\nlabel = 'full'"))
    repo.write("p/a/sample/data.txt", "bundled sample\n")
    repo.write("p/a/requirements.txt", DATA_REQUIREMENTS)
    repo.write_package("p/a", parameters={"rows": 1000000, "label": "prod"},
                       test_parameters={"rows": 7}, resources=[{"name": "out", "path": "out.csv"}])
    repo.write("p/hang/main.ipynb", notebook("import time", "time.sleep(3600)", "print('never')"))
    repo.write_package("p/hang", test_timeout=3)
    repo.write("p/dies/main.ipynb", notebook("x = 1", "import os; os._exit(1)", "print('never')"))
    repo.write("p/dies/second.ipynb", notebook("print('skipped')"))
    repo.write_package("p/dies")
    repo.write("p/loud/main.ipynb", notebook("for i in range(60000): print('x' * 80, i)"))
    repo.write_package("p/loud")
    repo.write("p/lazy/main.ipynb", notebook("print('forgot to write')"))
    repo.write_package("p/lazy", resources=[{"name": "table", "path": "table.csv"}])
    repo.write("p/s/main.ipynb", notebook(
        "import os; token = os.environ['API_TOKEN']", "print('token is', token)",
        "assert 'GITHUB_TOKEN' not in os.environ and 'VAULT_TOKEN' not in os.environ",
        "open('leak.txt', 'w').write(token)", "token"))
    repo.write("p/s/fail.ipynb", notebook(
        "raise ValueError('bad token ' + __import__('os').environ['API_TOKEN'])"))
    repo.write_package("p/s", notebooks=["main.ipynb", "fail.ipynb"],
                       secrets={"API_TOKEN": "env:RUNNER_TOKEN"})
    repo.write("p/m/main.ipynb", notebook("open('ran', 'w').write('yes')"))
    repo.write_package("p/m", secrets={"DB": "env:NOT_SET_ANYWHERE"})
    repo.write_package("p/bad", notebooks=["missing.ipynb"])
    repo.write("shared/lib/teamlib.py", "ANSWER = 42\n")
    repo.write("p/d/main.ipynb", notebook("import teamlib, shared.lib.teamlib as again",
                                          "assert teamlib.ANSWER == again.ANSWER == 42",
                                          kernel="conda-env-laptop-py"))
    repo.write_package("p/d", depends_on=["shared/lib"])
    repo.write("p/r/main.ipynb", notebook(
        "import pandas as pd, json",
        "df = pd.DataFrame({'a': [1, 2, 3], 'b': [0.5, 1.5, 2.5], 'c': ['x', 'y', 'z']})",
        "df.to_parquet('t.parquet')",
        "json.dump(df.to_dict(orient='records'), open('t.json', 'w'))"))
    repo.write("p/r/requirements.txt", DATA_REQUIREMENTS)
    repo.write_package("p/r", resources=[{"name": "t", "path": "t.parquet", "format": "parquet"},
                                         {"name": "j", "path": "t.json", "format": "json"}])
    repo.write("p/bare/main.ipynb", notebook("print(x * 2)", params="x = 1", kernel=None))
    repo.write_package("p/bare", test_parameters={"x": 21})
    repo.write("p/nomod/main.ipynb", notebook("import dvbuild_no_such_module.sub"))
    repo.write_package("p/nomod")
    repo.write("p/meta/main.ipynb", rejected_metadata("print(21 * 2)"))
    repo.write_package("p/meta")
    repo.write("p/baddata/main.ipynb", notebook(
        "open('t.csv', 'w').write('n,m\\n' + ''.join(f'{i},{i},extra\\n' for i in range(820)))"))
    repo.write_package("p/baddata", resources=[{"name": "t", "path": "t.csv", "schema": {
        "fields": [{"name": "n", "type": "integer"}, {"name": "m", "type": "integer"}]}}])
    repo.commit()


def rejected_metadata(*cells: str) -> str:
    """A notebook whose metadata nbformat's schema rejects (Jupyter opens it anyway)."""
    nb = json.loads(notebook(*cells))
    nb["metadata"]["kernelspec"].pop("display_name")
    nb["cells"][0]["metadata"]["tags"] = "not-a-list"
    return json.dumps(nb)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, Path, dict[str, dict[str, Any]]]:
    import subprocess

    root = tmp_path_factory.mktemp("nbrepo")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    repo = Repo(root)
    build(repo)
    out = root.parent / (root.name + "-out")
    environ = {**os.environ, "RUNNER_TOKEN": SECRET, "GITHUB_TOKEN": "ghs_ci-token-not-for-notebooks",
               "VAULT_TOKEN": "hvs.not-for-notebooks"}
    return repo, out, run(repo, out, environ=environ, jobs=2)


def test_parameters_env_and_outputs(shared: Any) -> None:
    repo, out, reports = shared
    report = reports["a"]
    assert report["status"] == "passed", report
    assert report["mode"] == "test" and report["parameters"] == {"rows": 7, "label": "prod"}
    assert json.loads((out / "a" / "report.json").read_text())["parameters"]["rows"] == 7
    res = report["resources"][0]
    assert res["exists"] and res["rows"] == 7 and res["valid"] and res["bytes"] > 0
    assert res["columns"] == [{"name": "n", "type": "integer"}, {"name": "label", "type": "string"}]
    assert res["preview"]["columns"] == ["n", "label"]
    assert res["preview"]["rows"][0] == ["0", "prod"]
    text = (out / "a" / "main.ipynb").read_text()
    assert "test a" in text and "bundled sample" in text
    # the checkout itself is untouched; the copy is a complete package directory
    assert not (repo.path / "p/a/out.csv").exists()
    assert {"datapackage.json", "main.ipynb", "main.html", "main.py", "out.csv", "report.json"} <= {
        p.name for p in (out / "a").iterdir()}
    assert (out / ".gitignore").read_text() == "*\n"
    assert "cell 2/6" in (out / "a.log").read_text()  # the per-package log


def test_timeout_kills_a_hung_kernel(shared: Any) -> None:
    _, out, reports = shared
    report = reports["hang"]
    assert report["status"] == "timed_out"
    err = report["notebooks"][0]["error"]
    assert err["cell_number"] == 2 and err["source"] == "time.sleep(3600)"
    assert err["evalue"].startswith("cell 2 exceeded the test_timeout of 3 s")
    assert report["error"].startswith("main.ipynb timed out in cell 2: Timeout: cell 2 exceeded")
    nb = nbformat.read(str(out / "hang/main.ipynb"), as_version=4)
    assert "papermill-error-cell-tag" in nb.cells[0].metadata["tags"]
    assert report["duration"] < 120
    # the kernel died because dvbuild stopped it: the log says timeout, not "Kernel died"
    log = (out / "hang.log").read_text()
    assert "Kernel died" not in log and "timed_out in" in log and "test_timeout of 3 s" in log


def test_dead_kernel_reported(shared: Any) -> None:
    report = shared[2]["dies"]
    assert report["status"] == "failed"
    first, second = report["notebooks"]
    assert first["error"]["cell_number"] == 2
    assert first["error"]["ename"] == "DeadKernelError"
    assert second["status"] == "skipped"


def test_megabytes_of_output(shared: Any) -> None:
    _, out, reports = shared
    assert reports["loud"]["status"] == "passed"
    assert (out / "loud/main.ipynb").stat().st_size > 4_000_000


def test_missing_resource_fails_the_package(shared: Any) -> None:
    report = shared[2]["lazy"]
    assert report["status"] == "failed"
    assert "table" in report["error"]
    assert report["resources"][0]["exists"] is False


def test_secret_masked_in_every_artifact(shared: Any) -> None:
    _, out, reports = shared
    report = reports["s"]
    assert report["status"] == "failed"
    assert report["notebooks"][0]["status"] == "passed"  # no CI credentials in the kernel
    assert "***" in report["notebooks"][1]["error"]["evalue"]
    assert "***" in (out / "s/main.ipynb").read_text()
    leaks = [p for p in out.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []


def test_missing_secret_fails_before_any_kernel(shared: Any) -> None:
    _, out, reports = shared
    report = reports["m"]
    assert report["status"] == "failed"
    assert "NOT_SET_ANYWHERE" in report["error"] and "DB" in report["error"]
    assert report["notebooks"] == []
    assert [p.name for p in (out / "m").iterdir()] == ["report.json"]


def test_invalid_package_is_not_run(shared: Any) -> None:
    report = shared[2]["bad"]
    assert report["status"] == "invalid"
    assert "missing.ipynb" in report["error"]


def test_depends_on_importable_and_unknown_kernel(shared: Any) -> None:
    report = shared[2]["d"]
    assert report["status"] == "passed", report
    assert any("conda-env-laptop-py" in w for w in report["warnings"])


def test_resources_parquet_and_json(shared: Any) -> None:
    report = shared[2]["r"]
    assert report["status"] == "passed", report
    parquet, js = report["resources"]
    assert parquet["rows"] == 3
    assert parquet["columns"] == [{"name": "a", "type": "integer"}, {"name": "b", "type": "number"},
                                  {"name": "c", "type": "string"}]
    assert parquet["preview"]["rows"][0] == [1, 0.5, "x"]
    assert js["rows"] == 3 and js["columns"][0] == {"name": "a", "type": "integer"}


def test_bare_notebook_without_any_metadata(shared: Any) -> None:
    _, out, reports = shared
    assert reports["bare"]["status"] == "passed", reports["bare"]
    assert any("no kernelspec" in w for w in reports["bare"]["warnings"])
    assert '"42\\n"' in (out / "bare/main.ipynb").read_text()


def test_missing_module_hints_at_requirements(shared: Any) -> None:
    report = shared[2]["nomod"]
    assert report["status"] == "failed"
    error = report["notebooks"][0]["error"]
    assert error["ename"] == "ModuleNotFoundError"
    assert error["hint"] == "add dvbuild_no_such_module to p/nomod/requirements.txt"
    assert report["error"].endswith("(hint: add dvbuild_no_such_module to p/nomod/requirements.txt)")


def test_metadata_nbformat_rejects_keeps_the_executed_notebook(shared: Any) -> None:
    _, out, reports = shared
    report = reports["meta"]
    assert report["status"] == "passed", report
    assert (out / "meta/main.html").is_file() and "42" in (out / "meta/main.html").read_text()
    executed = json.loads((out / "meta/main.ipynb").read_text())
    assert executed["cells"][0]["outputs"][0]["text"] == ["42\n"]
    assert executed["metadata"]["kernelspec"] == {"name": "python3", "language": "python"}
    [warning] = [w for w in report["warnings"] if "nbformat" in w]
    assert "\n" not in warning and "display_name" in warning


def test_data_that_fails_its_schema_fails_the_package(shared: Any) -> None:
    _, out, reports = shared
    report = reports["baddata"]
    assert report["status"] == "failed"
    assert report["error"].startswith("data does not match the descriptor: t: 820 errors (t.csv")
    resource = report["resources"][0]
    assert resource["valid"] is False and resource["error_count"] == 820
    assert resource["errors"][-1].endswith("more errors")
    assert json.loads((out / "baddata/report.json").read_text())["status"] == "failed"


@pytest.fixture
def repo(make_repo: Callable[..., Repo]) -> Repo:
    return make_repo(commit=False)


def test_cli_exit_codes_and_output(repo: Repo, tmp_path: Path, cli: Callable[..., Any]) -> None:
    repo.write("p/ok/main.ipynb", notebook("x = 1", params="rows = 1"))
    repo.write_package("p/ok", test_parameters={"rowz": 5})
    repo.write("p/ko/main.ipynb", notebook("x = 1", "1 / 0"))
    repo.write_package("p/ko")
    repo.commit()
    out = tmp_path / "out"
    result = cli("test", "--repo", repo.path, "--out", out, "--jobs", "2")
    assert result.code == 1
    assert "passed" in result.out and "ok" in result.out
    assert "warning: main.ipynb: parameter(s) not defined in any 'parameters' cell: rowz" in result.out
    assert "ko: main.ipynb failed in cell 2: ZeroDivisionError" in result.out
    assert "cell 2/2" in result.err  # per-cell progress on stderr
    only = cli("test", repo.path / "p/ok", "--repo", repo.path, "--out", out, "--json")
    assert only.code == 0
    doc = only.json()
    assert [p["package"] for p in doc["packages"]] == ["ok"]
    assert json.loads((out / "ok/report.json").read_text())["status"] == "passed"
    actions = cli("test", repo.path / "p/ko", "--repo", repo.path, "--out", out,
                  env={"GITHUB_ACTIONS": "true"})
    assert "::error file=p/ko/main.ipynb::ko: main.ipynb failed in cell 2: ZeroDivisionError" in (
        actions.err)


def test_inside_a_package_folder_only_that_package_is_tested(repo: Repo,
                                                             cli: Callable[..., Any]) -> None:
    repo.write("p/ok/main.ipynb", notebook("x = 1"))
    repo.write_package("p/ok")
    repo.write("p/other/main.ipynb", notebook("1 / 0"))
    repo.write_package("p/other", version="not a version")
    repo.write("p/ok/sub/notes.txt", "a folder below the package\n")
    repo.commit()
    result = cli("test", "--json", cwd=repo.path / "p/ok")
    assert result.code == 0, result.err
    assert [p["package"] for p in result.json()["packages"]] == ["ok"]
    assert "p/ok: the package folder you are in" in result.err
    assert Path(result.json()["out"]) == (repo.path / "out").resolve()  # the monorepo's OUT
    assert (repo.path / "out/ok/report.json").is_file() and not (repo.path / "p/ok/out").exists()
    valid = cli("validate", "--json", cwd=repo.path / "p/ok/sub")
    assert valid.code == 0 and valid.json()["packages"] == 1, valid.out
    assert cli("validate", cwd=repo.path / "p").code == 2  # not in a package: every package
    shown = cli("build", "--dry-run", "--json", cwd=repo.path / "p/ok")
    assert [b["package"] for b in shown.json()["packages"]] == ["ok"]


def test_plain_output_one_status_line_and_the_failing_cells_frame(
        repo: Repo, tmp_path: Path, cli: Callable[..., Any]) -> None:
    repo.write("p/ok/main.ipynb", notebook("x = 1", "y = 2"))
    repo.write_package("p/ok")
    repo.write("p/deep/main.ipynb", notebook(
        "def f(n):\n    if n == 0:\n        raise ValueError('deep')\n    return f(n - 1)",
        "x = 1", "z = 3\nf(30)"))
    repo.write_package("p/deep")
    repo.commit()
    result = cli("test", "--repo", repo.path, "--out", tmp_path / "out", "--jobs", "2")
    assert result.code == 1
    both = result.out + result.err
    # the status line once (stdout), never again as a log line
    assert both.count("passed    ok") == 1 and both.count("failed    deep") == 1
    progress = [line for line in result.err.splitlines() if line.startswith("[ok] ")]
    assert progress == ["[ok] main.ipynb: cell 1/2" + progress[0][25:],
                        "[ok] main.ipynb: cell 2/2" + progress[1][25:],
                        progress[2]] and "passed in" in progress[2]  # 2 cells, 1 notebook
    # the user's failing cell is the traceback's first frame, kept however deep it goes
    assert "Cell In[3], line 2" in result.out and "----> 2 f(30)" in result.out
    assert "lines left out" in result.out and "ValueError: deep" in result.out
    assert result.out.index("----> 2 f(30)") < result.out.rindex("ValueError: deep")


def test_out_must_not_hold_the_repo_or_foreign_folders(repo: Repo, tmp_path: Path,
                                                        cli: Callable[..., Any]) -> None:
    repo.write("p/ok/main.ipynb", notebook("x = 1"))
    repo.write_package("p/ok")
    repo.commit()
    result = cli("test", "--repo", repo.path, "--out", repo.path.parent)
    assert result.code == 2 and "would hold the copies" in result.err
    foreign = tmp_path / "elsewhere"
    (foreign / "ok").mkdir(parents=True)
    (foreign / "ok" / "precious.txt").write_text("keep me")
    result = cli("test", "--repo", repo.path, "--out", foreign)
    assert result.code == 2 and "not written by dvbuild" in result.err
    assert (foreign / "ok" / "precious.txt").read_text() == "keep me"
    assert not (foreign / ".gitignore").exists()


def test_kernel_env_points_sources_at_the_monorepo_config(make_repo, tmp_path):
    from dvbuild.notebooks.prepare import kernel_env
    from dvbuild.package import discover
    from dvbuild.settings import load_settings

    repo = make_repo(commit=False)
    repo.write("dvbuild.yaml", "sources: {db: {url: 'sqlite:///x.db'}}\n")
    repo.write_package("packages/a", depends_on=["shared/lib"])
    repo.write("shared/lib/teamlib/__init__.py", "")
    settings = load_settings(repo.path, environ={})
    [package] = discover(settings.root)
    env = kernel_env(settings, package, tmp_path / "out", "test", {"TOKEN": "v"})
    assert env["DVBUILD_CONFIG"] == str(settings.root / "dvbuild.yaml")
    assert str(settings.root / "shared/lib") in env["PYTHONPATH"].split(":")
    assert env["DVBUILD_MODE"] == "test" and env["TOKEN"] == "v"


def test_a_parameter_one_notebook_of_several_takes_is_no_typo():
    import nbformat

    from dvbuild.notebooks.engine import parameter_warnings

    def nb(source: str) -> object:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = ["parameters"]
        return nbformat.v4.new_notebook(cells=[cell])

    notebooks = [("01.ipynb", nb("rows = 10")), ("02.ipynb", nb("since = 2020"))]
    assert parameter_warnings(notebooks, {"rows": 5, "since": 2021}) == []
    assert parameter_warnings(notebooks, {"rowz": 5}) == [
        "parameter(s) not defined in any 'parameters' cell: rowz"]


def test_read_dp_is_recorded_in_the_report(repo: Repo, tmp_path: Path) -> None:
    from dvbuild import publish as pub
    from dvbuild.stores import open_store
    from tests.test_publish import make_dir

    store = (tmp_path / "store").as_uri()
    published = {r.name: str(r.version) for r in pub.publish_dirs(
        [make_dir(tmp_path / "up", name=n) for n in ("befolkning", "kommuner")], store, None,
        environ={})}
    repo.write("dvbuild.yaml", f"store: {store}\n")
    for name in published:  # upstream packages of the same monorepo
        repo.write(f"p/{name}/main.ipynb", notebook("x = 1"))
        repo.write_package(f"p/{name}")
    repo.write("p/down/main.ipynb", notebook(
        "import dvbuild",
        "a = dvbuild.read_dp('befolkning', 'tab'); b = dvbuild.read_dp('kommuner', 'tab')",
        "dvbuild.read_dp('befolkning', 'tab')",  # read twice, recorded once
        "a.merge(b, on='a').to_csv('out.csv', index=False)"))
    repo.write("p/down/requirements.txt", DATA_REQUIREMENTS)
    repo.write_package("p/down", reads=["befolkning"], resources=[{"name": "out", "path": "out.csv"}])
    repo.commit()
    environ = {**os.environ, "DVBUILD_CACHE_DIR": str(tmp_path / "cache")}
    settings = load_settings(repo.path, environ=environ)
    [down] = [p for p in discover(repo.path) if p.name == "down"]
    [report] = notebooks.test_packages(settings, [down], tmp_path / "out")
    assert report["status"] == "passed", report
    files = {n: pub.read_manifest(open_store(store, {}), n, v)["files"] for n, v in published.items()}
    tab = {n: next(f["sha256"] for f in fs if f["path"] == "data/tab.csv") for n, fs in files.items()}
    assert report["inputs"] == [{"name": n, "version": published[n], "resource": "tab", "sha256": tab[n]}
                                for n in ("befolkning", "kommuner")]
    assert report["warnings"] == ["read_dp('kommuner') reads a package not declared in `reads`"]
    on_disk = json.loads((tmp_path / "out/down/report.json").read_text())
    assert on_disk["inputs"] == report["inputs"] and on_disk["warnings"] == report["warnings"]
