"""Bad input never hangs or crashes (issue #14).

Every command that reads a descriptor, dvbuild.yaml, a report.json, a store
document or a name is fed hostile and mutated versions of them through the
in-process CLI. Whatever the input: exit 0, 1 or 2, never a traceback, never a
call that outlives CALL_SECONDS, and a publish or rollback never leaves
latest.json naming a version without a _manifest.json. `dvbuild test` is left
out (no kernels in the loop). Examples are derandomized: the same inputs on
every run, and the whole module stays within about two minutes on two cores.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Repo, Result
from tests.test_report import failed, passed

pytestmark = pytest.mark.timeout(600)

CALL_SECONDS = 30  # one CLI call; the slowest honest one here takes about a second
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
VERSION = "0.1.0-0123456789ab"
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
GOOD_YAML = "global:\n  - shared/**\nignore:\n  - '**/*.md'\nnaisjob:\n  team: data\n"

# JSON texts that broke something once, or would
NASTY = [
    "1" * 5000, "-" + "9" * 4400, "9" * 4000, "1e400", "-0", "0.0", "1e-400", "true", "null",
    "[]", "{}", '""', '" "', '"\\ud800"', '"\\udfff x"', '"\\u0000"', '"a\\nb"', '"..\\/x"',
    '"../x"', '"/etc/passwd"', json.dumps("**/" * 200), json.dumps("x" * 300),
    json.dumps("a" * 300), json.dumps("é" * 200), json.dumps("@daily"), json.dumps("* * * * *"),
    json.dumps("Europe/Oslo"), json.dumps("vault:kv/x#y"), json.dumps("env:X"),
    "[" * 400 + "]" * 400, '{"a":' * 300 + "1" + "}" * 300, '["\\u0000", "**/", "x/../y"]',
    json.dumps(["x" * 300]), json.dumps(["\u0000"]), '[{"name": "\\ud800"}]',
    '{"team": ' + "1" * 5000 + "}", '{"cpu": "1e400", "memory": -1}', '{"X": "vault:"}',
]
KEYS = ["name", "title", "version", "schedule", "timezone", "notebooks", "parameters",
        "test_parameters", "timeout", "test_timeout", "depends_on", "secrets", "job", "reads",
        "resources", "docker", "description", "keywords", "licenses", "created", "ünïcode", ""]
NESTED = {"job": ["team", "resources", "ttl", "backoff_limit", "concurrency_policy", "env"],
          "resources": ["name", "path", "schema", "format", "bytes"],
          "docker": ["base_image", "apt"], "reads": ["name", "version"]}
CONFIG_KEYS = ["global", "ignore", "store", "test_store", "catalog", "registry", "base_image",
               "naisjob", "vault", "sources", "other"]
HOSTILE_NAMES = ["with space", "new\nline", "..x", "x..", "ünïcødé", "日本", "a" * 200,
                 "-dash", ".hidden", "tab\there", "quote\"d", "back\\slash", "$HOME", "*"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
fragments = st.one_of(st.sampled_from(NASTY), json_values.map(json.dumps))


class Hang(Exception):
    pass


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """SIGALRM interrupts a call that hangs (the in-process CLI cannot be killed)."""
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def sane(cli: Callable[..., Result], *args: str | Path, **kw: Any) -> Result:
    """Run one command: any exit but 0/1/2, a traceback or a hang fails the test."""
    shown = " ".join(repr(str(a))[:80] for a in args)
    with bounded(CALL_SECONDS):
        try:
            result = cli(*args, **kw)
        except Hang:
            pytest.fail(f"dvbuild {shown}: hung")
        except Exception as e:  # the CLI lets unexpected errors through: a crash
            raise AssertionError(f"dvbuild {shown}: crashed") from e
    assert result.code in (0, 1, 2), (shown, result.code, result.err[-2000:])
    text = result.out + result.err
    assert "Traceback (most recent call last)" not in text, (shown, text[-2000:])
    return result


@pytest.fixture
def fuzz_repo(make_repo: Callable[..., Repo], tmp_path: Path) -> Iterator[Repo]:
    repo = make_repo()
    repo.write("dvbuild.yaml", GOOD_YAML)
    repo.write("shared/lib.py", "X = 1\n")
    repo.write_package("packages/a", "a", schedule="@daily", job={"team": "data"})
    repo.write("packages/a/main.ipynb", NOTEBOOK)
    repo.commit("seed")
    yield repo


@pytest.fixture
def wheel_env(tmp_path: Path) -> dict[str, str]:
    """A stand-in wheel: `build --dry-run` would otherwise build dvbuild's (seconds)."""
    wheel = tmp_path / "dvbuild-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    return {"DVBUILD_WHEEL": str(wheel)}


def repo_commands(repo: Repo, out: Path) -> list[tuple[str | Path, ...]]:
    return [("validate", "--repo", repo.path), ("detect", "--all", "--json", "--repo", repo.path),
            ("build", "--dry-run", "--repo", repo.path),
            ("render", "--repo", repo.path, "--out", out),
            ("status", "--repo", repo.path, "--catalog", f"file://{out}/catalog"),
            ("lineage", "a", "--repo", repo.path, "--catalog", f"file://{out}/catalog")]


def run_repo_commands(cli: Callable[..., Result], repo: Repo, env: dict[str, str]) -> None:
    out = repo.path.parent / "fuzz-out"
    for args in repo_commands(repo, out):
        sane(cli, *args, env=env, cwd=repo.path)
    shutil.rmtree(out, ignore_errors=True)


def descriptor_text(draw: st.DrawFn) -> str:
    base = {"name": "a", "resources": [], "schedule": "@daily", "job": {"team": "data"}}
    fields = {k: json.dumps(v) for k, v in base.items()}
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(KEYS))
        if key in NESTED and draw(st.booleans()):
            inner = json.dumps(draw(st.sampled_from(NESTED[key])))
            value = "{" + f"{inner}: {draw(fragments)}" + "}"
            fields[key] = f"[{value}]" if key in ("resources", "reads") else value
        else:
            fields[key] = draw(fragments)
    text = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}"
    return mutate(draw, text)


def mutate(draw: st.DrawFn, text: str) -> str:
    """Now and then a cut or a spliced-in character: malformed documents too."""
    how = draw(st.sampled_from(["keep"] * 6 + ["cut", "splice", "bom"]))
    at = draw(st.integers(0, max(0, len(text) - 1)))
    if how == "cut":
        return text[:at]
    if how == "splice":
        return text[:at] + draw(st.sampled_from(["\0", "\ufeff", "\n", '"', "{", "]", "\t", "é"])) + text[at:]
    return "\ufeff" + text if how == "bom" else text


@st.composite
def descriptors(draw: st.DrawFn) -> str:
    return descriptor_text(draw)


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["field", "field", "text", "bomb"]))
    if kind == "text":
        return draw(st.text(max_size=200))
    if kind == "bomb":
        return draw(st.sampled_from(BOMBS))
    key = draw(st.sampled_from(CONFIG_KEYS))
    value = draw(fragments)
    return mutate(draw, GOOD_YAML + f"{key}: {value}\n" if key not in ("global", "ignore", "naisjob")
                  else f"{key}: {value}\n")


BOMBS = [
    "a: &a [*a]\n",
    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
              for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
    "global: &g\n  - *g\n",
    "naisjob: {team: " + "1" * 5000 + "}\n",
    "naisjob: {team: 0x" + "f" * 5000 + "}\n",
    "[" * 10000 + "]" * 10000,
    "global:\n" + "  - x\n" * 50000,
    "store: \"\\ud800\"\n",
]


@FUZZ
@given(text=descriptors())
def test_fuzzed_descriptors(text: str, fuzz_repo: Repo, wheel_env: dict[str, str],
                            cli: Callable[..., Result]) -> None:
    fuzz_repo.write("packages/a/datapackage.json", text.encode("utf-8", "surrogatepass"))
    run_repo_commands(cli, fuzz_repo, wheel_env)
    built = built_dir(fuzz_repo.path.parent)  # the same descriptor, as a built folder
    (built / "datapackage.json").write_bytes(text.encode("utf-8", "surrogatepass"))
    root = fuzz_repo.path.parent / "store"
    if sane(cli, "publish", built, "--store", f"file://{root}", cwd=fuzz_repo.path).code == 0:
        latest_is_complete(root)


@FUZZ
@given(text=descriptors())
def test_fuzzed_yaml_descriptors(text: str, fuzz_repo: Repo, wheel_env: dict[str, str],
                                 cli: Callable[..., Result]) -> None:
    (fuzz_repo.path / "packages/a/datapackage.json").unlink(missing_ok=True)
    fuzz_repo.write("packages/a/datapackage.yaml", text.encode("utf-8", "surrogatepass"))
    for args in repo_commands(fuzz_repo, fuzz_repo.path.parent / "fuzz-out")[:3]:
        sane(cli, *args, env=wheel_env, cwd=fuzz_repo.path)


@FUZZ
@given(text=config_texts())
def test_fuzzed_dvbuild_yaml(text: str, fuzz_repo: Repo, wheel_env: dict[str, str],
                             cli: Callable[..., Result]) -> None:
    fuzz_repo.write("dvbuild.yaml", text.encode("utf-8", "surrogatepass"))
    run_repo_commands(cli, fuzz_repo, wheel_env)


@settings(FUZZ, max_examples=12)
@given(folder=st.sampled_from(HOSTILE_NAMES) | st.text(min_size=1, max_size=40),
       notebook=st.sampled_from(HOSTILE_NAMES) | st.text(min_size=1, max_size=40))
def test_hostile_folder_and_file_names(folder: str, notebook: str, fuzz_repo: Repo,
                                       wheel_env: dict[str, str], cli: Callable[..., Result]) -> None:
    try:
        fuzz_repo.write_package(f"packages/{folder}", "b")
        fuzz_repo.write(f"packages/{folder}/{notebook}.ipynb", NOTEBOOK)
    except (OSError, ValueError, UnicodeEncodeError):  # not a name this filesystem takes
        return
    run_repo_commands(cli, fuzz_repo, wheel_env)
    sane(cli, "validate", f"packages/{folder}", "--repo", fuzz_repo.path, cwd=fuzz_repo.path)
    shutil.rmtree(fuzz_repo.path / "packages" / folder, ignore_errors=True)


# -- report.json ---------------------------------------------------------------------


@st.composite
def reports(draw: st.DrawFn) -> str:
    report = draw(st.sampled_from([passed(), failed(), {}]))
    text = json.dumps(report)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(["package", "status", "notebooks", "resources", "error",
                                    "duration", "mode", "warnings", "path", "commit"]))
        text = text[:-1] + ("," if len(text) > 2 else "") + f"{json.dumps(key)}: {draw(fragments)}" + "}"
    return mutate(draw, text)


@settings(FUZZ, max_examples=40)
@given(text=reports(), folder=st.sampled_from(["a", "with space", "ü", "x" * 200]))
def test_fuzzed_reports(text: str, folder: str, tmp_path: Path, cli: Callable[..., Result]) -> None:
    out = tmp_path / "reports"
    shutil.rmtree(out, ignore_errors=True)
    (out / folder).mkdir(parents=True)
    (out / folder / "report.json").write_bytes(text.encode("utf-8", "surrogatepass"))
    sane(cli, "comment", "--report", out, "--dry-run", cwd=tmp_path)


# -- the store -------------------------------------------------------------------------


def seed_store(root: Path, latest: str, manifest: str) -> None:
    version = root / "a" / "versions" / VERSION
    version.mkdir(parents=True, exist_ok=True)
    (version / "_manifest.json").write_bytes(manifest.encode("utf-8", "surrogatepass"))
    (root / "a" / "latest.json").write_bytes(latest.encode("utf-8", "surrogatepass"))


def built_dir(tmp_path: Path) -> Path:
    built = tmp_path / "built" / "a"
    if not built.exists():
        built.mkdir(parents=True)
        (built / "data.csv").write_text("x\n1\n")
        (built / "datapackage.json").write_text(json.dumps({
            "name": "a", "version": "0.1.0",
            "resources": [{"name": "data", "path": "data.csv", "format": "csv"}]}))
    return built


@st.composite
def store_docs(draw: st.DrawFn) -> tuple[str, str]:
    good = {"version": VERSION, "manifest_sha256": "0" * 64, "published": "2026-01-01T00:00:00Z"}
    docs = []
    for _ in range(2):
        doc = dict(good)
        if draw(st.booleans()):
            doc[draw(st.sampled_from(["version", "published", "files", "name", "bytes"]))] = "@"
        text = json.dumps(doc)
        if "@" in text:
            text = text.replace('"@"', draw(fragments))
        docs.append(mutate(draw, text))
    return docs[0], docs[1]


def latest_is_complete(root: Path) -> None:
    """latest.json, when dvbuild wrote it, names a version whose _manifest.json exists."""
    pointer = json.loads((root / "a" / "latest.json").read_text())
    assert (root / "a" / "versions" / pointer["version"] / "_manifest.json").is_file(), pointer


@settings(FUZZ, max_examples=40)
@given(docs=store_docs())
def test_fuzzed_store_documents(docs: tuple[str, str], tmp_path: Path,
                                cli: Callable[..., Result]) -> None:
    root = tmp_path / "store"
    shutil.rmtree(root, ignore_errors=True)
    seed_store(root, *docs)
    store = f"file://{root}"
    sane(cli, "versions", "a", "--store", store, cwd=tmp_path)
    sane(cli, "versions", "a", "--store", store, "--json", cwd=tmp_path)
    if sane(cli, "publish", "--rollback", VERSION, "a", "--store", store, cwd=tmp_path).code == 0:
        latest_is_complete(root)
    seed_store(root, *docs)
    if sane(cli, "publish", built_dir(tmp_path), "--store", store, cwd=tmp_path).code == 0:
        latest_is_complete(root)


@settings(FUZZ, max_examples=30)
@given(name=st.sampled_from(["../x", "..", ".", "", "a/b", "A", "x" * 300, "\0", "a\n"])
       | st.text(max_size=30))
def test_names_that_are_not_names(name: str, tmp_path: Path, cli: Callable[..., Result]) -> None:
    store = f"file://{tmp_path / 'store'}"
    for args in (("versions", name, "--store", store), ("lineage", name, "--repo", tmp_path),
                 ("publish", "--rollback", VERSION, name, "--store", store)):
        sane(cli, *args, cwd=tmp_path)


# -- regressions: each bomb through the CLI, exit 2 within a bound ---------------------


@pytest.mark.parametrize("bomb", BOMBS[:6], ids=["self-alias", "billion-laughs", "alias-in-list",
                                                  "5000-digits", "long-hex", "deep"])
@pytest.mark.parametrize("command", ["validate", "detect", "render", "status"])
def test_yaml_bombs_exit_2_quickly(bomb: str, command: str, fuzz_repo: Repo,
                                   cli: Callable[..., Result]) -> None:
    fuzz_repo.write("dvbuild.yaml", bomb)
    extra = {"detect": ["--all"], "render": ["--out", str(fuzz_repo.path / "out")]}.get(command, [])
    started = time.monotonic()
    result = sane(cli, command, *extra, "--repo", fuzz_repo.path, cwd=fuzz_repo.path)
    assert result.code == 2 and "dvbuild.yaml" in result.out + result.err
    assert time.monotonic() - started < 60  # a bound on a hang, not a speed target


def test_a_200_mb_dvbuild_yaml_is_refused_unread(fuzz_repo: Repo, cli: Callable[..., Result]) -> None:
    with (fuzz_repo.path / "dvbuild.yaml").open("wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: refused on its size, before a byte is read
    started = time.monotonic()
    result = sane(cli, "validate", "--repo", fuzz_repo.path, cwd=fuzz_repo.path)
    assert result.code == 2 and "dvbuild.yaml" in result.err + result.out
    assert "bytes" in result.err + result.out and time.monotonic() - started < 60


@pytest.mark.parametrize("field, value, says", [
    ("timeout", "1" * 5000, "integer of 5000 digits"),
    ("timeout", "9" * 4000, "more than a year"),
    ("depends_on", json.dumps(["x" * 300]), "longer than 255"),
    ("depends_on", json.dumps(["\u0000"]), "control character"),
    ("name", json.dumps("a" * 300), "300 characters long"),
    ("title", '"\\ud800"', "lone UTF-16 surrogate"),
])
def test_hostile_fields_are_named(field: str, value: str, says: str, fuzz_repo: Repo,
                                  wheel_env: dict[str, str], cli: Callable[..., Result]) -> None:
    fields = {"name": '"a"', "resources": "[]", field: value}
    fuzz_repo.write("packages/a/datapackage.json",
                    "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}")
    result = sane(cli, "validate", "--repo", fuzz_repo.path, cwd=fuzz_repo.path)
    assert result.code == 2 and says in result.out + result.err
    assert "packages/a/datapackage.json:1:" in result.out + result.err
    run_repo_commands(cli, fuzz_repo, wheel_env)


def test_versions_of_a_name_that_is_not_a_name(tmp_path: Path, cli: Callable[..., Result]) -> None:
    result = sane(cli, "versions", "../x", "--store", f"file://{tmp_path}", cwd=tmp_path)
    assert result.code == 2 and "not a package name" in result.err


def test_an_unreadable_latest_json_is_named_and_replaced(tmp_path: Path,
                                                         cli: Callable[..., Result]) -> None:
    root = tmp_path / "store"
    seed_store(root, "", json.dumps({"version": VERSION, "files": []}))
    store = f"file://{root}"
    listed = sane(cli, "versions", "a", "--store", store, "--json", cwd=tmp_path)
    assert listed.code == 0 and "latest.json: unreadable" in listed.err
    assert listed.json()["latest"] is None and listed.json()["versions"][0]["version"] == VERSION
    published = sane(cli, "publish", built_dir(tmp_path), "--store", store, cwd=tmp_path)
    assert published.code == 0, published.err
    latest_is_complete(root)
    (root / "a" / "latest.json").write_text("{")
    from dvbuild.api.read import read_dp
    from dvbuild.errors import DataPackageError

    with pytest.raises(DataPackageError, match="latest.json: unreadable"):
        read_dp("a", store=store, environ={})


def test_a_broken_manifest_is_no_version_to_roll_back_to(tmp_path: Path,
                                                        cli: Callable[..., Result]) -> None:
    root = tmp_path / "store"
    seed_store(root, "{}", "{")
    result = sane(cli, "publish", "--rollback", VERSION, "a", "--store", f"file://{root}",
                  cwd=tmp_path)
    assert result.code == 2 and "no complete version" in result.err
    assert (root / "a" / "latest.json").read_text() == "{}"
