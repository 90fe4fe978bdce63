"""Every notebook of papermill's own test corpus, test-run for real: the report says
exactly what happened, and where (in the author's cell numbering)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest

from dvbuild import notebooks
from dvbuild.package import discover
from dvbuild.settings import load_settings

CORPUS = Path(__file__).parent / "corpora" / "notebooks"

PACKAGES: dict[str, dict[str, Any]] = {
    "simple-execute": {"nb": "simple_execute.ipynb", "test_parameters": {"msg": "hello dvbuild"}},
    "nb-version-44": {"nb": "nb_version_4.4.ipynb", "test_parameters": {"var": 42}},
    "complex-parameters": {"nb": "complex_parameters.ipynb",
                           "test_parameters": {"a": 3.5, "c": "text", "bogus": 1}},
    "no-parameters": {"nb": "no_parameters.ipynb", "test_parameters": {"msg": "injected"}},
    "broken1": {"nb": "broken1.ipynb"},
    "broken2": {"nb": "broken2.ipynb"},
    "line-magic-error": {"nb": "line_magic_error.ipynb"},
    "sysexit0": {"nb": "sysexit0.ipynb"},
    "sysexit1": {"nb": "sysexit1.ipynb"},
    "systemexit": {"nb": "systemexit.ipynb"},
    "keyboard-interrupt": {"nb": "keyboard_interrupt.ipynb", "test_timeout": 3},
    "blank-vscode": {"nb": "blank-vscode.ipynb"},
    "nbformat-v3": {"nb": "nbformat_v3.ipynb", "test_parameters": {"msg": "upgraded"}},
    "nbformat-v2": {"nb": "nbformat_v2.ipynb"},
}


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("corpus")
    for name, spec in PACKAGES.items():
        folder = root / "packages" / name
        folder.mkdir(parents=True)
        shutil.copy(CORPUS / spec["nb"], folder / spec["nb"])
        fields = {k: v for k, v in spec.items() if k != "nb"}
        (folder / "datapackage.json").write_text(json.dumps({"name": name, "resources": [], **fields}))
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "corpus"], cwd=root, check=True)
    settings = load_settings(root, environ={})
    out = root.parent / (root.name + "-out")
    reports = notebooks.test_packages(settings, discover(root), out, jobs=2)
    return out, {r["package"]: r for r in reports}


def only_notebook(report: dict[str, Any]) -> dict[str, Any]:
    assert len(report["notebooks"]) == 1
    return dict(report["notebooks"][0])


def executed(out: Path, name: str) -> Any:
    return nbformat.read(str(out / name / PACKAGES[name]["nb"]), as_version=4)


def outputs_text(nb: Any) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def test_every_report_written_with_the_contract_shape(corpus_run: Any) -> None:
    out, reports = corpus_run
    assert set(reports) == set(PACKAGES)
    for name, report in reports.items():
        on_disk = json.loads((out / name / "report.json").read_text())
        assert on_disk["status"] == report["status"]
        for key in ("package", "path", "status", "duration", "commit", "input_hash", "started",
                    "notebooks", "resources", "warnings", "error"):
            assert key in on_disk, (name, key)
        nb = only_notebook(on_disk)
        for key in ("path", "status", "duration", "html", "error"):
            assert key in nb
        assert len(on_disk["commit"]) == 40 and len(on_disk["input_hash"]) == 64


@pytest.mark.parametrize("name", ["simple-execute", "nb-version-44", "sysexit0", "systemexit",
                                  "blank-vscode", "no-parameters", "nbformat-v3", "nbformat-v2"])
def test_passing_notebooks(corpus_run: Any, name: str) -> None:
    out, reports = corpus_run
    assert reports[name]["status"] == "passed", reports[name]
    nb = only_notebook(reports[name])
    assert nb["error"] is None
    assert (out / name / nb["html"]).is_file()
    assert (out / name / nb["script"]).is_file()


def test_parameters_applied(corpus_run: Any) -> None:
    out, _ = corpus_run
    assert "hello dvbuild" in outputs_text(executed(out, "simple-execute"))
    assert "42" in outputs_text(executed(out, "nb-version-44"))
    # without a parameters cell papermill injects at the top, and the notebook's own
    # `msg = None` then wins: exactly why dvbuild warns about it
    nb = executed(out, "no-parameters")
    assert "injected-parameters" in nb.cells[0].metadata["tags"]
    assert "msg = \"injected\"" in nb.cells[0].source


def test_parameters_cell_missing_is_a_warning(corpus_run: Any) -> None:
    _, reports = corpus_run
    warnings = reports["no-parameters"]["warnings"]
    assert any("no cell tagged 'parameters'" in w and "msg" in w for w in warnings)


@pytest.mark.parametrize("name, index, ename, source", [
    ("broken1", 6, "AssertionError", "assert False"),
    # IPython 8 removed display from IPython.core.display: the cell fails on its import
    ("broken2", 1, "ImportError", "assert False"),
    ("line-magic-error", 0, "UsageError", "%undefined-line-magic"),
    ("sysexit1", 1, "SystemExit", "sys.exit(1)"),
    ("complex-parameters", 0, "SyntaxError", "= 2"),
])
def test_failing_cell_in_source_numbering(corpus_run: Any, name: str, index: int, ename: str,
                                          source: str) -> None:
    out, reports = corpus_run
    report = reports[name]
    assert report["status"] == "failed"
    err = only_notebook(report)["error"]
    assert err["cell_index"] == index and err["cell_number"] == index + 1
    assert err["ename"] == ename
    assert source in err["source"]
    assert "\x1b[" not in err["traceback"]
    assert f"cell {index + 1}" in report["error"]
    # the executed notebook is kept, marked at the failing cell, and rendered
    nb = executed(out, name)
    assert any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in nb.cells)
    assert (out / name / only_notebook(report)["html"]).is_file()


def test_failing_cell_index_ignores_papermill_leftovers(corpus_run: Any) -> None:
    # broken1 carries old papermill error markers (cells 0 and 2) and a markdown cell: the
    # index is the one in the source notebook the author opens
    _, reports = corpus_run
    assert only_notebook(reports["broken1"])["error"]["evalue"] == ""


def test_sysexit_evalue(corpus_run: Any) -> None:
    _, reports = corpus_run
    assert only_notebook(reports["sysexit1"])["error"]["evalue"] == "1"
    # the exception as raised: sys.exit(0) raises SystemExit(0), `raise SystemExit` no code
    assert "sysexit0.ipynb: stopped at cell 2 by SystemExit(0);" in " ".join(
        reports["sysexit0"]["warnings"])
    assert "systemexit.ipynb: stopped at cell 2 by SystemExit;" in " ".join(
        reports["systemexit"]["warnings"])


def test_old_nbformat_versions_are_upgraded_and_run(corpus_run: Any) -> None:
    out, _ = corpus_run
    v3 = executed(out, "nbformat-v3")
    assert v3.nbformat == 4 and "v3 says upgraded" in outputs_text(v3)
    assert "v2 says 42" in outputs_text(executed(out, "nbformat-v2"))


def test_unknown_parameter_named_in_a_warning(corpus_run: Any) -> None:
    _, reports = corpus_run
    warnings = reports["complex-parameters"]["warnings"]
    assert any("bogus" in w and "'parameters' cell" in w for w in warnings)
    assert not any(" a," in w or w.endswith(" a") for w in warnings)


def test_sleep_stopped_by_timeout(corpus_run: Any) -> None:
    out, reports = corpus_run
    report = reports["keyboard-interrupt"]
    assert report["status"] == "timed_out"
    err = only_notebook(report)["error"]
    assert err["cell_number"] == 1 and err["ename"] == "Timeout"
    assert err["evalue"].startswith("cell 1 exceeded the test_timeout of 3 s")
    assert "Kernel died" not in (out / "keyboard-interrupt.log").read_text()
    assert report["duration"] < 55  # not the notebook's 60 s sleep
    nb = executed(out, "keyboard-interrupt")
    assert "papermill-error-cell-tag" in nb.cells[0].metadata["tags"]


def test_no_kernelspec_runs_on_python3(corpus_run: Any) -> None:
    _, reports = corpus_run
    assert any("no kernelspec" in w for w in reports["blank-vscode"]["warnings"])
