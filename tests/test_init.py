from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dvbuild import scaffold, templating
from tests.conftest import Repo, Result

FILES = [".gitignore", "LICENSE.md", "METADATA.md", "README.md", "datapackage.json",
         "main.ipynb", "requirements.txt"]


def test_init_creates_a_valid_package(cli: Callable[..., Result],
                                      make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    result = cli("init", "arbeidsledighet", "--dir", repo.path / "packages/arbeidsledighet",
                 cwd=repo.path)
    assert result.code == 0, result.err
    assert result.out == ("created packages/arbeidsledighet/: LICENSE.md, METADATA.md, "
                          "README.md, datapackage.json, .gitignore, main.ipynb, "
                          "requirements.txt\n")
    folder = repo.path / "packages/arbeidsledighet"
    assert sorted(p.name for p in folder.iterdir()) == FILES
    descriptor = json.loads((folder / "datapackage.json").read_text())
    assert descriptor["name"] == "arbeidsledighet"
    assert descriptor["title"] == "Arbeidsledighet"
    assert descriptor["resources"] == []
    assert "schedule" not in descriptor
    assert descriptor["test_parameters"] == {"sample": 100}
    notebook = json.loads((folder / "main.ipynb").read_text())
    tagged = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1 and "sample = None" in "".join(tagged[0]["source"])
    import nbformat

    nbformat.validate(nbformat.reads(json.dumps(notebook), as_version=4))
    assert "has no .github/workflows/" in result.err
    assert cli("validate", "--repo", repo.path).code == 0


def test_default_dir_is_name_in_cwd(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("init", "ny-pakke", "--title", "Ny pakke: \"test\"", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["path"] == str(tmp_path / "ny-pakke")
    assert doc["workflow"] is None
    descriptor = json.loads((tmp_path / "ny-pakke/datapackage.json").read_text())
    assert descriptor["title"] == 'Ny pakke: "test"'


@pytest.mark.parametrize("name", ["Bad Name", "ÆØÅ", "_leading", "UPPER", "a/b", ""])
def test_bad_names(cli: Callable[..., Result], tmp_path: Path, name: str) -> None:
    result = cli("init", name, cwd=tmp_path)
    assert result.code == 2
    assert f"package name {name!r} is not a lowercase slug" in result.err
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite(cli: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("mine")
    result = cli("init", "p", cwd=tmp_path)
    assert result.code == 2
    assert "already exists and is not empty; dvbuild init never overwrites" in result.err
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["notes.txt"]


def test_empty_existing_folder_is_fine(cli: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    assert cli("init", "p", cwd=tmp_path).code == 0


def test_refuses_to_nest_and_to_reuse_names(cli: Callable[..., Result],
                                            make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    assert cli("init", "a", cwd=repo.path).code == 0
    nested = cli("init", "b", "--dir", repo.path / "a/b", cwd=repo.path)
    assert nested.code == 2 and "packages do not nest" in nested.err
    again = cli("init", "a", "--dir", repo.path / "other", cwd=repo.path)
    assert again.code == 2
    assert "the name 'a' is already used by a/datapackage.json" in again.err


def test_with_workflow(cli: Callable[..., Result], make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    (repo.path / "sub").mkdir()
    result = cli("init", "a", "--with-workflow", cwd=repo.path / "sub")
    assert result.code == 0, result.err
    for name in ("dvbuild.yml", "dvbuild-comment.yml"):  # at the git root, where GitHub looks
        template = templating.templates_dir() / "workflow" / name
        assert (repo.path / ".github/workflows" / name).read_text() == template.read_text()
    again = cli("init", "b", "--with-workflow", cwd=repo.path)
    assert again.code == 2 and "already exists; dvbuild init never overwrites" in again.err
    assert not (repo.path / "b").exists()


def test_render_is_pure_and_json_safe() -> None:
    files = scaffold.render_package("x.y_z", 'Tittel med "anførsel" og \\', "x.y_z")
    assert json.loads(files["datapackage.json"])["title"] == 'Tittel med "anførsel" og \\'
    nb = json.loads(files["main.ipynb"])
    assert '"x.y_z"' in "".join(nb["cells"][-1]["source"])
