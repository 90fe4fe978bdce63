"""run_local on small real repos: real git, real kernels, a real file store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from dvbuild.errors import UsageError
from dvbuild.pipeline import LocalRun, Step, run_local
from dvbuild.settings import load_settings
from tests.conftest import Repo


def notebook(*sources: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return str(nbformat.writes(nb))


def csv_notebook(rows: int, columns: str = "kommune,antall") -> str:
    names = columns.split(",")
    lines = [columns] + [",".join(f"v{r}{c}" if c == 0 else str(r) for c in range(len(names)))
                         for r in range(rows)]
    return notebook(
        "import os, pathlib",
        "out = pathlib.Path(os.environ.get('DVBUILD_OUTPUT_DIR', '.'))\n"
        f"(out / 'tall.csv').write_text({chr(10).join(lines)!r} + '\\n')",
    )


def add_csv_package(repo: Repo, name: str, rows: int, columns: str = "kommune,antall",
                    under: str = "packages") -> None:
    repo.write_package(f"{under}/{name}", resources=[
        {"name": "tall", "path": "tall.csv", "format": "csv"}])
    repo.write(f"{under}/{name}/main.ipynb", csv_notebook(rows, columns))


def run(repo: Repo, out: Path, **kwargs: object) -> tuple[LocalRun, list[Step]]:
    seen: list[Step] = []
    settings = load_settings(repo.path, environ={})
    result = run_local(settings, out=out, build=False, progress=seen.append, **kwargs)  # type: ignore[arg-type]
    return result, seen


def test_one_passes_one_fails_and_both_are_in_the_comment(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    repo = make_repo()
    add_csv_package(repo, "good", rows=3)
    repo.write_package("packages/bad")
    repo.write("packages/bad/main.ipynb", notebook("x = 1", "1 / 0"))
    repo.commit("two packages")
    out = tmp_path / "out"
    result, seen = run(repo, out, all_=True)

    assert result.exit_code == 1
    assert [s.name for s in result.steps] == ["detect", "validate", "test", "build", "publish",
                                              "render", "report"]
    assert {s.name for s in seen} == {s.name for s in result.steps}
    statuses = {r["package"]: r["status"] for r in result.reports}
    assert statuses == {"good": "passed", "bad": "failed"}
    comment = (out / "comment.md").read_text()
    assert "| v00 | 0 |" in comment  # the preview of good's resource
    assert "ZeroDivisionError" in comment
    assert (out / "summary.md").is_file()
    assert (out / "store" / "good" / "latest.json").is_file()
    assert not (out / "store" / "bad").exists()
    assert (out / ".gitignore").read_text() == "*\n"


def test_second_run_shows_the_change_against_the_first(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    repo = make_repo()
    add_csv_package(repo, "good", rows=3)
    first_head = repo.commit("good")
    out = tmp_path / "out"
    first, _ = run(repo, out, all_=True)
    assert first.exit_code == 0, first.steps

    repo.write("packages/good/main.ipynb", csv_notebook(5, "kommune,antall,andel"))
    repo.commit("more rows, one more column")
    second, _ = run(repo, out, base=first_head, head="HEAD")
    assert second.exit_code == 0, second.steps
    comment = (out / "comment.md").read_text()
    assert "5 rows (+2)" in comment
    assert "`andel`" in comment and "**added**" in comment
    assert second.head == repo.head


def test_only_changed_packages_run(make_repo: Callable[..., Repo], tmp_path: Path) -> None:
    repo = make_repo()
    add_csv_package(repo, "one", rows=1)
    add_csv_package(repo, "two", rows=1)
    base = repo.commit("two packages")
    repo.write("packages/two/notes.txt", "changed\n")
    repo.commit("change two")
    result, _ = run(repo, tmp_path / "out", base=base, head="HEAD")
    assert [p.name for p in result.packages] == ["two"]
    assert [r["package"] for r in result.reports] == ["two"]


def test_invalid_package_is_bad_input_but_others_still_run(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    repo = make_repo()
    add_csv_package(repo, "good", rows=2)
    repo.write_package("packages/broken", schedule="every day at noon")
    repo.commit("one broken")
    out = tmp_path / "out"
    result, _ = run(repo, out, all_=True)
    assert result.exit_code == 2
    assert "broken" in result.invalid
    statuses = {r["package"]: r["status"] for r in result.reports}
    assert statuses == {"good": "passed", "broken": "invalid"}
    assert "⚠️ invalid" in (out / "comment.md").read_text()


def test_refuses_to_clean_a_folder_it_did_not_make(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    repo = make_repo()
    precious = tmp_path / "precious"
    (precious / "packages").mkdir(parents=True)
    with pytest.raises(UsageError):
        run(repo, precious, all_=True)
    assert (precious / "packages").is_dir()


def test_json_document(make_repo: Callable[..., Repo], tmp_path: Path) -> None:
    repo = make_repo()
    result, _ = run(repo, tmp_path / "out", all_=True)
    doc = json.loads(json.dumps(result.as_json()))
    assert doc["exit_code"] == 0 and doc["packages"] == []
    assert doc["comment"].endswith("comment.md")


SPOIL_OWN_DESCRIPTOR = (
    "import json, os, pathlib\n"
    "p = pathlib.Path(os.environ.get('DVBUILD_OUTPUT_DIR', '.')) / 'datapackage.json'\n"
    "d = json.loads(p.read_text()); d['version'] = 'v1'; p.write_text(json.dumps(d))"
)


def test_a_package_publish_refuses_fails_alone(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    repo = make_repo()
    add_csv_package(repo, "good", rows=2)
    repo.write_package("packages/spoilt")
    repo.write("packages/spoilt/main.ipynb", notebook(SPOIL_OWN_DESCRIPTOR))
    repo.commit("one writes a descriptor publish refuses")
    out = tmp_path / "out"
    result, _ = run(repo, out, all_=True)
    assert {r["package"]: r["status"] for r in result.reports} == {"good": "passed",
                                                                   "spoilt": "passed"}
    publish = next(s for s in result.steps if s.name == "publish")
    assert publish.status == "failed" and result.exit_code == 1
    by_name = {r["name"]: r for r in result.results["publish"]}
    assert by_name["good"]["status"] == "published"
    assert by_name["spoilt"]["status"] == "failed"
    assert by_name["spoilt"]["problems"][0]["pointer"] == "/version"
    assert (out / "store" / "good" / "latest.json").is_file()
    assert not (out / "store" / "spoilt").exists()
