from __future__ import annotations

from pathlib import Path

import pytest

from dvbuild.errors import ConfigError, UsageError
from dvbuild.settings import RepoConfig, find_root, load_config, load_settings


def test_defaults_without_config(make_repo):
    repo = make_repo()
    settings = load_settings(repo.path, environ={})
    assert settings.root == repo.path.resolve()
    assert settings.prefix == ""
    assert settings.config.global_ == ()
    assert settings.github.actions is False


def test_monorepo_in_a_subfolder_is_found_by_its_dvbuild_yaml(make_repo):
    repo = make_repo(commit=False)
    repo.write("sub/mono/dvbuild.yaml", "ignore: ['**/*.md']\n")
    repo.write("sub/mono/packages/a/x.txt")
    root, git_root = find_root(None, repo.path / "sub/mono/packages/a")
    assert root == (repo.path / "sub/mono").resolve()
    assert git_root == repo.path.resolve()
    settings = load_settings(None, environ={}, cwd=repo.path / "sub/mono/packages/a")
    assert settings.prefix == "sub/mono/"
    assert settings.config.ignore == ("**/*.md",)


def test_unknown_key_suggests_the_known_one(tmp_path: Path):
    (tmp_path / "dvbuild.yaml").write_text("globl: [x]\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert "did you mean 'global'" in str(e.value)
    assert e.value.problems[0].pointer == "/globl"


def test_yaml_syntax_error_has_a_line(tmp_path: Path):
    (tmp_path / "dvbuild.yaml").write_text("store: s3://x\nignore: [a\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert e.value.problems[0].line is not None
    assert e.value.exit_code == 2


def test_wrong_type(tmp_path: Path):
    (tmp_path / "dvbuild.yaml").write_text("global: '*.txt'\n")
    with pytest.raises(ConfigError, match="expected a list"):
        load_config(tmp_path)


def test_not_a_git_repository(tmp_path: Path):
    with pytest.raises(UsageError, match="not inside a git repository"):
        load_settings(tmp_path, environ={})


def test_github_context_from_environ(make_repo):
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_API_URL": "https://ghe.example/api/v3"}
    settings = load_settings(make_repo().path, environ=env)
    assert settings.github.actions and settings.github.event_name == "push"
    assert settings.github.api_url == "https://ghe.example/api/v3"


def test_environment_wins_over_dvbuild_yaml(make_repo):
    repo = make_repo(commit=False)
    repo.write("dvbuild.yaml", "registry: reg.yaml.example/team\nstore: file:///from-yaml\n")
    env = {"DVBUILD_REGISTRY": "127.0.0.1:5000/team", "DVBUILD_CATALOG": "file:///cat"}
    config = load_settings(repo.path, environ=env).config
    assert config.registry == "127.0.0.1:5000/team"
    assert config.catalog == "file:///cat"
    assert config.store == "file:///from-yaml"


def test_without_git_a_plain_folder_is_its_own_git_root(tmp_path: Path):
    (tmp_path / "mono/packages/a").mkdir(parents=True)
    (tmp_path / "mono/dvbuild.yaml").write_text("store: file:///yaml\n")
    settings = load_settings(None, environ={}, cwd=tmp_path / "mono/packages/a", require_git=False)
    assert settings.root == settings.git_root == (tmp_path / "mono").resolve()
    assert settings.prefix == "" and settings.config.store == "file:///yaml"
    bare = load_settings(tmp_path / "mono/packages", environ={}, require_git=False)
    assert bare.root == bare.git_root == (tmp_path / "mono/packages").resolve()


def test_without_git_inside_git_is_as_with_git(make_repo):
    repo = make_repo(commit=False)
    repo.write("sub/mono/dvbuild.yaml", "ignore: ['**/*.md']\n")
    repo.write("sub/mono/packages/a/x.txt")
    cwd = repo.path / "sub/mono/packages/a"
    lenient = load_settings(None, environ={}, cwd=cwd, require_git=False)
    assert lenient == load_settings(None, environ={}, cwd=cwd)
    assert lenient.prefix == "sub/mono/"


def test_given_config_stands_in_for_dvbuild_yaml(tmp_path: Path):
    (tmp_path / "dvbuild.yaml").write_text("globl: [x]\n")
    settings = load_settings(tmp_path, environ={"DVBUILD_STORE": "file:///env"},
                             require_git=False, config=RepoConfig(store="file:///given"))
    assert settings.config.store == "file:///env" and settings.config.global_ == ()


def test_duplicate_keys_are_an_error_with_pointer_and_line(tmp_path: Path) -> None:
    (tmp_path / "dvbuild.yaml").write_text("store: s3://a\nnaisjob:\n  team: x\n  team: y\n"
                                           "store: s3://b\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert e.value.exit_code == 2
    assert [(p.file, p.pointer, p.line) for p in e.value.problems] == [
        ("dvbuild.yaml", "/naisjob/team", 4), ("dvbuild.yaml", "/store", 5)]
    assert "key 'store' is given twice in the same mapping (first at line 1)" in str(e.value)


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dvbuild.yaml").write_text("global: &g ['a']\nignore: *g\n")
    with pytest.raises(ConfigError, match="aliases") as e:
        load_config(tmp_path)
    assert e.value.problems[0].line == 2


def test_run_url_and_image_for_provenance(make_repo):
    repo = make_repo()
    plain = load_settings(repo.path, environ={})
    assert plain.github.run_url is None and plain.image.as_dict() is None
    settings = load_settings(repo.path, environ={
        "GITHUB_SERVER_URL": "https://github.example.com/", "GITHUB_REPOSITORY": "navikt/team",
        "GITHUB_RUN_ID": "9", "DVBUILD_IMAGE_REF": "r.io/team/p:abc"})
    assert settings.github.run_url == "https://github.example.com/navikt/team/actions/runs/9"
    assert settings.image.as_dict() == {"ref": "r.io/team/p:abc", "digest": None}
