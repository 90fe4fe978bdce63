"""dvbuild.manifests: rendering is pure and YAML-safe; every manifest passes its schema."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dvbuild import manifests, schemas
from dvbuild.errors import ConfigError
from dvbuild.manifests.build import document
from dvbuild.manifests.managed import managed_manifests
from dvbuild.manifests.names import MAX_NAME
from dvbuild.manifests.render import render, to_yaml
from dvbuild.manifests.runtime import VAULT_MOUNT
from dvbuild.manifests.spec import START_SLACK
from dvbuild.package import Package
from dvbuild.settings import GitHubContext, RepoConfig, Settings

HOSTILE = [
    'He said "hi": it\'s fine',
    "key: value\nother: thing",
    "\n---\napiVersion: v1\nkind: Secret\ndata: {password: aHVudGVyMg==}\n",
    '"\nspec:\n  image: evil\n#',
    "{{ 7 * 7 }} {% raw %} {# c #} ${HOME} $(id)",
    "&anchor *alias !!python/object:os.system [] | > % @ `",
    "tab\there, NUL\x00, bell\x07, DEL\x7f, C1\x85\x9b, BOM\ufeff, LS\u2028, PS\u2029",
    "emoji 😀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, CJK 日本語, RTL \u202eevil",
    "trailing backslash \\",
    "- a list?\n- yes",
    "null",
    "",
]


def settings(tmp_path: Path, **config: Any) -> Settings:
    naisjob = config.pop("naisjob", {"team": "dataplatform"})
    return Settings(root=tmp_path, git_root=tmp_path, config=RepoConfig(naisjob=naisjob, **config),
                    github=GitHubContext(), environ={})


def package(tmp_path: Path, name: str = "arbeidsledighet", **fields: Any) -> Package:
    descriptor = {"name": name, "schedule": "15 6 * * 1-5", **fields}
    return Package(name=name, path=f"packages/{name}", folder=tmp_path / "packages" / name,
                   descriptor=descriptor)


def load(text: str) -> dict[str, Any]:
    docs = list(yaml.safe_load_all(text))
    assert len(docs) == 1
    assert isinstance(docs[0], dict)
    return docs[0]


def rendered(s: Settings, p: Package, image: str, kind: str) -> str:
    return {"naisjob": manifests.render_naisjob, "cronjob": manifests.render_cronjob}[kind](
        s, p, image)


def check(text: str, kind: str) -> list[tuple[str, str]]:
    doc = load(text)
    validator = schemas.naisjob_validator() if kind == "naisjob" else schemas.cronjob_validator()
    return [*schemas.metadata_problems(doc["metadata"]), *schemas.errors(validator, doc)]


def test_naisjob_for_a_scheduled_package(tmp_path: Path) -> None:
    s = settings(tmp_path, store="s3://data/prod", catalog="https://es.example.com:9200")
    p = package(tmp_path, job={"resources": {"cpu": 0.5, "memory": "2Gi"}, "env": {"LEVEL": 3}},
                timeout=1800)
    text = manifests.render_naisjob(s, p, "ghcr.io/team/arbeidsledighet:abc")
    assert check(text, "naisjob") == []
    doc = load(text)
    assert doc["apiVersion"] == "nais.io/v1" and doc["kind"] == "Naisjob"
    assert doc["metadata"]["name"] == "arbeidsledighet"
    assert doc["metadata"]["namespace"] == "dataplatform"
    assert doc["metadata"]["labels"]["team"] == "dataplatform"
    spec = doc["spec"]
    assert spec["image"] == "ghcr.io/team/arbeidsledighet:abc"
    assert spec["schedule"] == "15 6 * * 1-5"
    assert spec["timeZone"] == "Europe/Oslo"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["activeDeadlineSeconds"] == 1800 + START_SLACK
    assert spec["resources"] == {"requests": {"cpu": "500m", "memory": "2Gi"},
                                 "limits": {"memory": "2Gi"}}
    assert {"name": "LEVEL", "value": "3"} in spec["env"]
    assert {"name": "DVBUILD_STORE", "value": "s3://data/prod"} in spec["env"]
    hosts = spec["accessPolicy"]["outbound"]["external"]
    assert {"host": "es.example.com", "ports": [{"port": 9200}]} in hosts
    assert doc["metadata"]["annotations"]["dvbuild/schedule"] == (
        "at 06:15, Monday through Friday, Europe/Oslo")


def test_package_settings_override_the_repo_defaults(tmp_path: Path) -> None:
    s = settings(tmp_path, naisjob={"team": "a", "namespace": "ns", "backoff_limit": 4,
                                    "resources": {"cpu": "2"}})
    p = package(tmp_path, job={"team": "b", "ttl": "2d", "concurrency_policy": "replace",
                               "backoff_limit": 0})
    spec_doc = load(manifests.render_naisjob(s, p, "img"))
    assert spec_doc["metadata"]["labels"]["team"] == "b"
    assert spec_doc["metadata"]["namespace"] == "ns"
    spec = spec_doc["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (0, 172800)
    assert spec["concurrencyPolicy"] == "Replace"
    assert spec["resources"] == {"requests": {"cpu": "2"}}


def test_daily_macro_and_other_timezone(tmp_path: Path) -> None:
    p = package(tmp_path, schedule="@daily", timezone="America/New_York")
    for kind in manifests.KINDS:
        text = rendered(settings(tmp_path), p, "img", kind)
        assert check(text, kind) == []
        spec = load(text)["spec"]
        assert (spec["schedule"], spec["timeZone"]) == ("@daily", "America/New_York")


@pytest.mark.parametrize("description", HOSTILE)
def test_hostile_descriptions_stay_data(tmp_path: Path, description: str) -> None:
    p = package(tmp_path, title=description, description=description,
                job={"env": {"NOTE": description}})
    for kind in manifests.KINDS:
        text = rendered(settings(tmp_path), p, "img", kind)
        assert check(text, kind) == []
        doc = load(text)
        notes = doc["metadata"]["annotations"]
        assert notes["dvbuild/description"] == description
        assert notes["dvbuild/title"] == description
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
        assert text.isascii()


def test_random_text_round_trips(tmp_path: Path) -> None:
    rng = random.Random(7)
    alphabet = [chr(c) for c in (*range(0, 0x250), 0x2028, 0xFEFF, 0x1F600, 0x10FFFF)]
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        written = to_yaml({"v": text, "w": {text: [text]}}, text)
        assert written.isascii()
        assert yaml.safe_load(written) == {"v": text, "w": {text: [text]}}


def test_every_json_type_round_trips() -> None:
    for value in (None, True, 0, -5, 2**40, 1.5, "x", "yes", "0123", "", ["a", 1], {"k": "v"}):
        assert yaml.safe_load(to_yaml({"v": value}, "f")) == {"v": value}


@pytest.mark.parametrize("name", [
    "arbeidsledighet", "a_b", "a.b", "Capital_Letters.Here", "x" * 80,
    "a" * 60 + "_tail", "9lives", "-dash-", "__", "ÆØÅ-norsk",
])
def test_job_names_are_dns_labels(name: str) -> None:
    job = manifests.job_name(name)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", job)
    assert len(job) <= MAX_NAME <= 63
    assert manifests.job_name(name) == job


def test_job_names_stay_distinct() -> None:
    names = ["a-b", "a_b", "a.b", "x" * 80, "x" * 79 + "y", "x" * 52, "x" * 53]
    assert len({manifests.job_name(n) for n in names}) == len(names)
    assert manifests.job_name("a-b") == "a-b"


def test_odd_names_render_valid_manifests(tmp_path: Path) -> None:
    for name in ("under_score", "dotted.name", "n" * 80):
        for kind in manifests.KINDS:
            text = rendered(settings(tmp_path), package(tmp_path, name), "img", kind)
            assert check(text, kind) == []
            assert load(text)["metadata"]["annotations"]["dvbuild/package"] == name


def test_secrets_are_references_never_values(tmp_path: Path) -> None:
    s = settings(tmp_path, vault={"address": "https://vault.example.com"},
                 catalog="https://elastic:hunter2@es.example.com")
    p = package(tmp_path, secrets={"DB_PASSWORD": "vault:kv/prod/db#password",
                                   "TOKEN": "env:API_TOKEN"})
    text = manifests.render_naisjob(s, p, "img")
    assert check(text, "naisjob") == []
    assert "hunter2" not in text
    spec = load(text)["spec"]
    assert spec["envFrom"] == [{"secret": "arbeidsledighet"}]
    assert spec["vault"]["paths"] == [{"kvPath": "/kv/prod/db",
                                       "mountPath": f"{VAULT_MOUNT}/kv/prod/db"}]
    assert {"name": "VAULT_ADDR", "value": "https://vault.example.com"} in spec["env"]
    assert {"name": "DVBUILD_CATALOG", "value": "https://es.example.com"} in spec["env"]
    hosts = {h["host"] for h in spec["accessPolicy"]["outbound"]["external"]}
    assert hosts == {"vault.example.com", "es.example.com"}
    cron = load(manifests.render_cronjob(s, p, "img"))
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "arbeidsledighet"}}]


def test_missing_team_names_both_places(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        manifests.render_naisjob(settings(tmp_path, naisjob={}), package(tmp_path), "img")
    [problem] = e.value.problems
    assert (problem.file, problem.pointer) == ("packages/arbeidsledighet/datapackage.json",
                                               "/job/team")
    assert "naisjob.team" in problem.expected
    # a plain CronJob needs no team
    text = manifests.render_cronjob(settings(tmp_path, naisjob={}), package(tmp_path), "img")
    assert "team" not in load(text)["metadata"]["labels"]


def problems_for(tmp_path: Path, kind: str, s: Settings | None = None,
                 **fields: Any) -> list[Any]:
    return render(s or settings(tmp_path), package(tmp_path, **fields), "img", kind).problems


def test_schema_failures_point_at_their_source(tmp_path: Path) -> None:
    [cpu] = problems_for(tmp_path, "naisjob", job={"resources": {"cpu": "lots"}})
    assert (cpu.file, cpu.pointer) == ("packages/arbeidsledighet/datapackage.json",
                                       "/job/resources")
    assert "spec.resources.requests.cpu" in cpu.message
    s = settings(tmp_path, naisjob={"team": "t", "resources": {"memory": "2GB"}})
    problems = problems_for(tmp_path, "naisjob", s)
    assert {(p.file, p.pointer) for p in problems} == {("dvbuild.yaml", "/naisjob/resources")}
    [policy] = problems_for(tmp_path, "naisjob", job={"concurrency_policy": "sometimes"})
    assert policy.pointer == "/job/concurrency_policy"
    [backoff] = problems_for(tmp_path, "cronjob", job={"backoff_limit": "twice"})
    assert backoff.pointer == "/job/backoff_limit"
    assert "CronJob" in backoff.message


def test_bad_settings_are_reported_before_rendering(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, "naisjob", schedule="61 * * * *", timezone="Mars/Olympus",
                            job={"env": {"1BAD": "x"}, "ttl": "soon"},
                            secrets={"X": "plaintext-password"})
    pointers = {p.pointer for p in problems}
    assert pointers == {"/schedule", "/timezone", "/job/env", "/job/ttl", "/secrets/X"}
    assert all("plaintext-password" not in str(p) for p in problems)
    problems = problems_for(tmp_path, "naisjob", job={"env_from": "one-secret",
                                                      "image_pull_secrets": [1]})
    assert {p.pointer for p in problems} == {"/job/env_from", "/job/image_pull_secrets"}


def test_the_schemas_reject_unknown_fields(tmp_path: Path) -> None:
    doc = load(manifests.render_naisjob(settings(tmp_path), package(tmp_path), "img"))
    doc["spec"]["scheduel"] = "typo"
    errors = list(schemas.errors(schemas.naisjob_validator(), doc))
    assert errors and "scheduel" in errors[0][1]
    assert schemas.check("naisjob", doc) == errors  # the fast path defers to the full report
    del doc["spec"]["scheduel"]
    assert schemas.check("naisjob", doc) == []
    assert list(schemas.metadata_problems({"name": "Not_A_Label"}))


def test_cronjob_validator_agrees_with_kubernetes_validate(tmp_path: Path) -> None:
    p = package(tmp_path, description=HOSTILE[2], job={"resources": {"cpu": 1, "memory": "1Gi"}})
    doc = load(manifests.render_cronjob(settings(tmp_path), p, "img"))
    assert kubernetes_validate.validate(doc, schemas.KUBERNETES_VERSION, strict=True)
    doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["imag"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, schemas.KUBERNETES_VERSION, strict=True)
    assert list(schemas.errors(schemas.cronjob_validator(), doc))


def test_openapi_conversion() -> None:
    converted = schemas.openapi_to_jsonschema({
        "type": "object", "properties": {
            "port": {"x-kubernetes-int-or-string": True},
            "n": {"type": "integer", "format": "int32", "nullable": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                     "properties": {"a": {"type": "string"}}},
        }})
    assert converted["additionalProperties"] is False
    assert converted["properties"]["port"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert converted["properties"]["n"]["type"] == ["integer", "null"]
    assert converted["properties"]["n"]["maximum"] == 2**31 - 1
    assert "additionalProperties" not in converted["properties"]["free"]


def test_bundled_crd_is_noted() -> None:
    note = (schemas.HERE / "SOURCE.md").read_text()
    assert "nais.io_naisjobs.yaml" in note and "liberator" in note
    assert json.dumps(schemas.naisjob_schema())  # converted schema is plain JSON


def test_hostile_repo_settings_are_reported(tmp_path: Path) -> None:
    s = settings(tmp_path, naisjob={"team": "a team\nkind: Secret", "namespace": "Bad_NS"})
    problems = problems_for(tmp_path, "naisjob", s)
    assert {(p.file, p.pointer) for p in problems} == {("dvbuild.yaml", "/naisjob/team"),
                                                        ("dvbuild.yaml", "/naisjob/namespace")}
    values = manifests.job_values(settings(tmp_path), package(tmp_path), "img\nkind: Secret")
    [image] = values.problems
    assert (image.file, image.pointer) == ("dvbuild.yaml", "/registry")


def test_webhook_gives_a_host_and_a_secret_never_its_url(tmp_path: Path) -> None:
    s = settings(tmp_path, naisjob={"team": "t", "webhook": "https://hooks.slack.com/services/T0/B0/tok3n",
                                    "outbound": ["api.example.com", "https://db.example.com:5432"]})
    text = manifests.render_naisjob(s, package(tmp_path), "img")
    assert "tok3n" not in text and "/services/" not in text
    spec = load(text)["spec"]
    assert spec["envFrom"] == [{"secret": "arbeidsledighet"}]
    assert spec["accessPolicy"]["outbound"]["external"] == [
        {"host": "api.example.com"}, {"host": "db.example.com", "ports": [{"port": 5432}]},
        {"host": "hooks.slack.com"}]
    plain = load(manifests.render_naisjob(settings(tmp_path, store="file:///data"),
                                          package(tmp_path), "img"))["spec"]
    assert "envFrom" not in plain and "accessPolicy" not in plain
    own = load(manifests.render_naisjob(settings(tmp_path), package(
        tmp_path, secrets={"T": "env:T"}, job={"env_from": ["shared", "mine"]}), "img"))["spec"]
    assert own["envFrom"] == [{"secret": "shared"}, {"secret": "mine"}]


def test_wrong_json_types_are_problems_not_crashes(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, "naisjob", job="big", secrets=["X"], timeout="long",
                            notebooks="main.ipynb", description=5)
    assert {p.pointer for p in problems} == {"/job", "/secrets", "/timeout", "/notebooks",
                                             "/description"}
    with pytest.raises(ConfigError):
        manifests.render_naisjob(settings(tmp_path), package(tmp_path, job=[1]), "img")


def test_written_text_is_the_checked_document(tmp_path: Path) -> None:
    s = settings(tmp_path, store="s3://b/p")
    for description in HOSTILE:
        p = package(tmp_path, description=description, secrets={"A": "vault:kv/x#y"},
                    job={"env": {"N": description}})
        for kind in manifests.KINDS:
            built = document(manifests.job_values(s, p, "img", kind), kind)
            text = rendered(s, p, "img", kind)
            assert yaml.safe_load(text) == built  # what was checked is what is written
            assert text.startswith('# Rendered by dvbuild from "packages/arbeidsledighet/'
                                   'datapackage.json"; do not edit')


def test_json_numbers_are_written_as_json_reads_them(tmp_path: Path) -> None:
    p = package(tmp_path, job={"backoff_limit": 2.0, "ttl": 60.0, "env": {"F": 2.0}})
    spec = load(manifests.render_naisjob(settings(tmp_path), p, "img"))["spec"]
    assert spec["backoffLimit"] == 2 and isinstance(spec["backoffLimit"], int)
    assert spec["ttlSecondsAfterFinished"] == 60
    assert {"name": "F", "value": "2.0"} in spec["env"]  # env values are text, as given


@pytest.mark.parametrize("kind", manifests.KINDS)
def test_managed_reads_the_package_line_and_nothing_posing_as_it(tmp_path: Path,
                                                                 kind: str) -> None:
    posing = '\n    dvbuild/package: evil\n    "dvbuild/package": "evil"\n'
    p = package(tmp_path, "real", title=posing, description=posing, job={"env": {"NOTE": posing}})
    text = rendered(settings(tmp_path), p, "img", kind)
    assert [line for line in text.splitlines() if "dvbuild/package:" in line][0] == \
        "    dvbuild/package: real"
    (tmp_path / "a.yaml").write_text(text)
    # as the jinja templates of earlier versions wrote it
    (tmp_path / "b.yaml").write_text('metadata:\n  labels:\n    app.kubernetes.io/managed-by: '
                                     'dvbuild\n  annotations:\n    "dvbuild/package": "old"\n')
    assert managed_manifests(tmp_path) == {"real": [tmp_path / "a.yaml"],
                                           "old": [tmp_path / "b.yaml"]}


def _mutations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The document with each field in turn replaced, removed, or given an unknown key."""
    out: list[dict[str, Any]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            for change in ("wrong", "unknown", "gone"):
                copy = json.loads(json.dumps(doc))
                parent = copy
                for p in path:
                    parent = parent[p]
                if change == "wrong":
                    parent[key] = 12 if isinstance(value, str) else "twelve"
                elif change == "unknown" and isinstance(value, dict):
                    parent[key]["zzUnknown"] = 1
                elif change == "gone" and isinstance(parent, dict):
                    del parent[key]
                else:
                    continue
                out.append(copy)
            if isinstance(value, dict | list):
                walk(value, (*path, key))

    walk(doc, ())
    return out


@pytest.mark.parametrize("kind", manifests.KINDS)
def test_compiled_validators_agree_with_jsonschema(tmp_path: Path, kind: str) -> None:
    from fastjsonschema import JsonSchemaValueException

    from dvbuild.schemas import compiled

    p = package(tmp_path, secrets={"T": "env:TOKEN", "DB": "vault:kv/db#pw"},
                job={"resources": {"cpu": 1, "memory": "1Gi"}, "env": {"A": 1}})
    doc = load(rendered(settings(tmp_path, store="s3://b/p"), p, "img", kind))
    fast = compiled.load(kind, tmp_path / "cache")
    full = schemas.naisjob_validator() if kind == "naisjob" else schemas.cronjob_validator()
    mutations = _mutations(doc)
    assert len(mutations) > 100
    for mutated in [doc, *mutations]:
        try:
            fast(mutated)
            valid = True
        except JsonSchemaValueException as e:
            valid = False
            assert " must " in e.message  # the fallback path reads "data.x.y must ..."
        assert valid == (not list(full.iter_errors(mutated))), mutated


def test_compiled_schemas_are_cached_and_checked(tmp_path: Path) -> None:
    from fastjsonschema import JsonSchemaValueException

    from dvbuild.schemas import compiled

    doc = load(manifests.render_cronjob(settings(tmp_path), package(tmp_path), "img"))
    compiled.load("cronjob", tmp_path)
    [cached] = tmp_path.glob("cronjob-*.bin")
    assert cached.name == f"cronjob-{compiled.cache_key('cronjob')}.bin"
    written = cached.stat().st_mtime_ns
    assert compiled.load("cronjob", tmp_path)(doc) is not None  # read back, not rewritten
    assert cached.stat().st_mtime_ns == written
    cached.write_bytes(cached.read_bytes()[:-10])  # damaged: recompiled and replaced
    validate = compiled.load("cronjob", tmp_path)
    assert compiled._read(cached) is not None
    doc["spec"]["schedul"] = "typo"
    with pytest.raises(JsonSchemaValueException):
        validate(doc)
    (tmp_path / "cronjob-0ld.bin").write_bytes(b"x")  # an older version's entry is removed
    cached.unlink()
    compiled.load("cronjob", tmp_path)
    assert [p.name for p in tmp_path.glob("cronjob-*.bin")] == [cached.name]
    (tmp_path / "file").write_text("not a folder")  # an unusable cache only costs time
    assert compiled.load("naisjob", tmp_path / "file")


@pytest.mark.parametrize(("image", "digest"), [
    ("ghcr.io/team/arbeidsledighet:abc", None),
    ("ghcr.io/team/arbeidsledighet@sha256:" + "d" * 64, "sha256:" + "d" * 64),
])
def test_the_job_tells_dvbuild_run_its_image(tmp_path: Path, image: str, digest: str | None) -> None:
    spec = load(manifests.render_naisjob(settings(tmp_path), package(tmp_path), image))["spec"]
    env = {e["name"]: e["value"] for e in spec["env"]}
    assert env["DVBUILD_IMAGE_REF"] == image
    assert env.get("DVBUILD_IMAGE_DIGEST") == digest
