"""Schedules → manifests: one NAIS Naisjob (or plain CronJob) per scheduled package.

    package + settings --job_values()--> values --template--> YAML text
        --safe YAML load + schema--> checked --write--> OUT/<job name>.yaml

`job_values` and `render_naisjob`/`render_cronjob` are pure (no files written);
`render_packages` validates every manifest before writing it and prunes the
manifests of packages that are gone. Values reach the YAML only through the
jinja environment's `finalize` (`yaml_scalar`), so nothing a datapackage.json
says can change the manifest's structure. A manifest that fails its schema is
bad input (exit 2), reported against the file and field it came from.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dvbuild import schemas
from dvbuild.errors import ConfigError, Problem, UsageError
from dvbuild.package import DEFAULT_TIMEZONE, Package
from dvbuild.settings import CONFIG_FILE, Settings

KINDS = ("naisjob", "cronjob")
MANAGED_BY = "dvbuild"
PACKAGE_KEY = "dvbuild/package"
# Kubernetes names a CronJob's Jobs `<name>-<11 digits>`, so a CronJob name (and the
# Naisjob's, which NAIS turns into one) must stay within 52 characters, not 63.
MAX_NAME = 52
DEFAULTS: dict[str, Any] = {
    "backoff_limit": 1, "concurrency_policy": "Forbid", "ttl": 86400,
    "failed_jobs_history_limit": 3, "successful_jobs_history_limit": 1,
}
START_SLACK = 600  # seconds on top of the notebooks' timeouts: pull, start, publish
MAX_ANNOTATION = 2000
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,510}$")  # loose: no spaces, no controls
VAULT_MOUNT = "/var/run/secrets/nais.io/vault"
_SURROGATES = re.compile(r"\\ud([89ab][0-9a-f]{2})\\ud([c-f][0-9a-f]{2})")


def job_name(package_name: str) -> str:
    """A DNS-1123 label (≤ 52 chars) for a package name; a name that had to change
    carries a hash of the original, so `a_b`, `a.b` and `a-b` stay distinct."""
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", package_name.lower())).strip("-")
    if slug == package_name and len(slug) <= MAX_NAME:
        return slug
    digest = hashlib.sha256(package_name.encode()).hexdigest()[:8]
    head = slug[: MAX_NAME - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else f"job-{digest}"


def yaml_scalar(value: Any) -> str:
    """Any JSON value as YAML: a double-quoted ASCII string, a number, or a flow collection."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # PyYAML reads "1e+20"-style JSON floats back as strings
    text = json.dumps(value, ensure_ascii=True)
    # json writes astral characters as surrogate pairs; YAML wants one \U escape
    return _SURROGATES.sub(_join_surrogates, text) if "\\ud" in text else text


def _join_surrogates(m: re.Match[str]) -> str:
    high, low = int("d" + m[1], 16), int("d" + m[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


# --- values --------------------------------------------------------------------------


@dataclass
class Values:
    """What a template needs, plus where each setting came from (for error messages)."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, key: str, message: str, expected: str = "") -> None:
        file, pointer = self.origins[key]
        self.problems.append(Problem(file, message, pointer=pointer, expected=expected))


class _Picker:
    """A job setting: the package's `job.<key>`, else dvbuild.yaml `naisjob.<key>`, else a default."""

    def __init__(self, settings: Settings, package: Package, values: Values) -> None:
        self.job = package.job
        self.naisjob = dict(settings.config.naisjob)
        self.file = package.descriptor_file
        self.values = values

    def __call__(self, key: str, default: Any = None, *, name: str | None = None) -> Any:
        name = name or key
        if self.job.get(key) is not None:
            self.values.origins[name] = (self.file, f"/job/{key}")
            return self.job[key]
        self.values.origins[name] = (CONFIG_FILE, f"/naisjob/{key}")
        if self.naisjob.get(key) is not None:
            return self.naisjob[key]
        self.values.origins[name] = (self.file, f"/job/{key}")
        return default


def job_values(settings: Settings, package: Package, image: str, kind: str = "naisjob") -> Values:
    """Everything the templates show for one package; problems are collected, not raised."""
    values = Values(problems=shape_problems(package))
    file = package.descriptor_file
    if values.problems:  # the typed accessors below would fail on these
        values.data["descriptor_file"] = file
        return values
    pick = _Picker(settings, package, values)
    v = values.data
    values.origins.update(schedule=(file, "/schedule"), timezone=(file, "/timezone"),
                          active_deadline=(file, "/timeout"), image=(CONFIG_FILE, "/registry"))
    v.update(name=job_name(package.name), descriptor_file=file, image=image,
             schedule=package.schedule, timezone=package.timezone)
    _schedule(package, values)
    if not IMAGE_RE.match(image):
        values.problem("image", f"image reference {image!r} is not valid",
                       expected="registry/name:tag without spaces")
    _team(pick, values, required=kind == "naisjob")
    _job_settings(pick, package, values)
    v["resources"] = _resources(pick("resources", {}), values)
    _environment(settings, package, pick, values)
    v["hosts"] = _hosts(settings, pick, values)
    v["annotations"] = _annotations(package, values)
    return values


_SHAPES: dict[str, tuple[tuple[type, ...], str]] = {
    "job": ((dict,), "a mapping"), "secrets": ((dict,), "a mapping NAME: reference"),
    "timeout": ((int, float), "a number of seconds"), "notebooks": ((list,), "a list of paths"),
    "timezone": ((str,), "an IANA zone name"), "title": ((str,), "a string"),
    "description": ((str,), "a string"), "version": ((str,), "a string"),
}


def shape_problems(package: Package) -> list[Problem]:
    """Fields of the wrong JSON type (`dvbuild validate` says more; this keeps render safe)."""
    problems = []
    for key, (types, expected) in _SHAPES.items():
        value = package.descriptor.get(key)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            problems.append(Problem(package.descriptor_file, f"{key} is {type(value).__name__}",
                                    pointer=f"/{key}", expected=expected))
    return problems


def _schedule(package: Package, values: Values) -> None:
    cron, tz = package.get("schedule"), package.get("timezone", DEFAULT_TIMEZONE)
    if not isinstance(cron, str) or not isinstance(tz, str):
        from dvbuild.schedule import cron_problem, timezone_problem

        for key, problem in (("schedule", cron_problem(cron)), ("timezone", timezone_problem(tz))):
            if problem:
                values.problem(key, problem)
        return
    cron_bad, tz_bad, words = _schedule_facts(cron, tz)
    if cron_bad:
        values.problem("schedule", cron_bad)
    if tz_bad:
        values.problem("timezone", tz_bad)
    values.data["words"] = words


@lru_cache(maxsize=4096)
def _schedule_facts(cron: str, tz: str) -> tuple[str | None, str | None, str]:
    """(cron problem, timezone problem, in words); repos repeat a few schedules many times."""
    from dvbuild.schedule import cron_problem, describe, timezone_problem

    cron_bad, tz_bad = cron_problem(cron), timezone_problem(tz)
    return cron_bad, tz_bad, "" if cron_bad or tz_bad else describe(cron, tz)


def _team(pick: _Picker, values: Values, *, required: bool) -> None:
    team = pick("team")
    namespace = pick("namespace") or team
    if required and not team:
        values.problem("team", "no team for the Naisjob",
                       expected=f"job.team here or naisjob.team in {CONFIG_FILE}")
    values.data.update(team=team, namespace=namespace)


def _job_settings(pick: _Picker, package: Package, values: Values) -> None:
    v = values.data
    policy = pick("concurrency_policy", DEFAULTS["concurrency_policy"])
    v["concurrency_policy"] = policy.capitalize() if isinstance(policy, str) else policy
    v["backoff_limit"] = pick("backoff_limit", DEFAULTS["backoff_limit"])
    v["ttl"] = _seconds(pick("ttl", DEFAULTS["ttl"]), values, "ttl")
    for key in ("failed_jobs_history_limit", "successful_jobs_history_limit"):
        v[key.split("_")[0] + "_history"] = pick(key, DEFAULTS[key])
    v["active_deadline"] = math.ceil(package.timeout * max(1, len(package.notebooks))) + START_SLACK
    command = pick("command")
    if command is not None and (not isinstance(command, list)
                                or not all(isinstance(c, str) for c in command)):
        values.problem("command", f"command is {command!r}", expected="a list of strings")
        command = None
    v["command"] = command
    v["image_pull_policy"] = pick("image_pull_policy")
    v["image_pull_secrets"] = _names(pick("image_pull_secrets", []), "image_pull_secrets", values)


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(value: Any, values: Values, key: str) -> Any:
    """`ttl`: seconds as a number, or '30m', '12h', '7d'."""
    if isinstance(value, bool):
        pass
    elif isinstance(value, int | float) and value >= 0:
        return int(value)
    elif isinstance(value, str) and (m := _DURATION.match(value.strip())):
        return int(m[1]) * _UNIT[m[2]]
    values.problem(key, f"{key} is {value!r}", expected="seconds, or a duration like '12h' or '7d'")
    return 0


def _resources(spec: Any, values: Values) -> dict[str, dict[str, Any]]:
    """`{cpu, memory}` asks for that much and caps memory at it (CPU is not capped, so a
    job may use idle cores); `{requests: {...}, limits: {...}}` is taken as written."""
    if not isinstance(spec, dict):
        values.problem("resources", f"resources is {spec!r}",
                       expected="a mapping like {cpu: '500m', memory: '2Gi'}")
        return {}
    if "requests" in spec or "limits" in spec:
        out = {k: dict(spec[k] or {}) for k in ("requests", "limits") if k in spec}
    else:
        out = {"requests": dict(spec)}
        if "memory" in spec:
            out["limits"] = {"memory": spec["memory"]}
    return {kind: {k: _quantity(k, q) for k, q in amounts.items()}
            for kind, amounts in out.items() if amounts}


def _quantity(key: str, value: Any) -> Any:
    if key == "cpu" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else f"{round(value * 1000)}m"
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _environment(settings: Settings, package: Package, pick: _Picker, values: Values) -> None:
    env = _plain_env(pick("env", {}), package, values)
    env_names = {e["name"] for e in env}
    refs_env, vault_paths = _secret_refs(package, values)
    runtime = {"DVBUILD_STORE": settings.config.store, "DVBUILD_CATALOG": settings.config.catalog,
               "VAULT_ADDR": settings.config.vault.get("address") if vault_paths else None,
               "AWS_ENDPOINT_URL": _s3_endpoint(settings)}
    env += [{"name": k, "value": _no_userinfo(str(u))} for k, u in runtime.items()
            if u and k not in env_names]
    # credentials (S3, catalog, webhook URL, `env:` secrets) come from one Secret per job
    needs = refs_env or runtime["AWS_ENDPOINT_URL"] or _scheme(settings.config.store) == "s3" \
        or _scheme(settings.config.catalog) in ("http", "https") or pick("webhook")
    env_from = _names(pick("env_from", [values.data["name"]] if needs else []), "env_from",
                      values)
    values.data.update(env=env, env_from=env_from, vault_paths=vault_paths)


def _names(value: Any, key: str, values: Values) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return list(value)
    values.problem(key, f"{key} is {value!r}", expected="a list of Secret names")
    return []


def _scheme(url: str | None) -> str:
    return urlsplit(url or "").scheme


def _plain_env(spec: Any, package: Package, values: Values) -> list[dict[str, str]]:
    if isinstance(spec, list):  # [{name, value}] as in Kubernetes
        spec = {e.get("name"): e.get("value") for e in spec if isinstance(e, dict)}
    if not isinstance(spec, dict):
        values.problem("env", f"env is {spec!r}", expected="a mapping NAME: value")
        return []
    env = []
    for name, value in spec.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            values.problem("env", f"env name {name!r} is not valid",
                           expected="letters, digits and '_', not starting with a digit")
        elif name in package.secrets:
            values.problem("env", f"{name} is both a plain env value and a secret",
                           expected="each name in either job.env or secrets")
        elif isinstance(value, dict | list):
            values.problem("env", f"env {name} is {type(value).__name__}",
                           expected="a string, number or boolean")
        else:
            env.append({"name": name, "value": _env_text(value)})
    return env


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _secret_refs(package: Package, values: Values) -> tuple[list[str], list[dict[str, str]]]:
    """Names of `env:` secrets (given to the pod by a Secret), and Vault paths to mount.
    Only references appear in the manifest; values are resolved in the pod at run time."""
    env_refs: list[str] = []
    paths: dict[str, dict[str, str]] = {}
    for name, ref in package.secrets.items():
        values.origins[f"secret:{name}"] = (package.descriptor_file, f"/secrets/{name}")
        text = ref if isinstance(ref, str) else ""
        if text.startswith("env:") and ENV_NAME.match(text[4:]):
            env_refs.append(text[4:])
        elif text.startswith("vault:") and "#" in text and text[6:].split("#")[0].strip("/"):
            kv = text[6:].split("#")[0].strip("/")
            paths[kv] = {"kv_path": f"/{kv}", "mount_path": f"{VAULT_MOUNT}/{kv}"}
        else:
            # never echo it: a malformed reference may well be the secret itself
            values.problem(f"secret:{name}", f"secret {name} is not a reference",
                           expected="'vault:<path>#<key>' or 'env:<NAME>'")
    return env_refs, list(paths.values())


def _s3_endpoint(settings: Settings) -> str | None:
    store = settings.config.store or ""
    if urlsplit(store).scheme != "s3":
        return None
    env = settings.environ
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def _no_userinfo(url: str) -> str:
    """Credentials written into a URL never reach a manifest."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
    return url


def _hosts(settings: Settings, pick: _Picker, values: Values) -> list[dict[str, Any]]:
    """The hosts a production run talks to: store, catalog, Vault, webhook, `outbound`.
    `webhook` may be a URL, but only its host is used: the URL often holds a token."""
    urls: list[str] = []
    store = settings.config.store or ""
    if urlsplit(store).scheme == "s3":
        urls.append(_s3_endpoint(settings) or f"https://{urlsplit(store).netloc}.s3.amazonaws.com")
    urls += [settings.config.catalog or "", str(settings.config.vault.get("address") or "")]
    extra = pick("outbound", [])
    if not isinstance(extra, list):
        values.problem("outbound", f"outbound is {extra!r}", expected="a list of host names")
        extra = []
    webhook = pick("webhook")
    extra = [*extra, webhook] if webhook else extra
    urls += [str(e) if "//" in str(e) else f"https://{e}" for e in extra]
    return [dict(h) for h in _hosts_of(tuple(urls))]


@lru_cache(maxsize=256)
def _hosts_of(urls: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    hosts: dict[tuple[str, int | None], dict[str, Any]] = {}
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            port = parts.port if parts.port not in (None, 443) else None
            hosts.setdefault((parts.hostname, port), {"host": parts.hostname, "port": port})
    return tuple(hosts.values())


def _annotations(package: Package, values: Values) -> dict[str, str]:
    notes = {PACKAGE_KEY: package.name, "dvbuild/path": package.path,
             "dvbuild/title": package.title[:MAX_ANNOTATION],
             "dvbuild/description": package.description[:MAX_ANNOTATION]}
    if values.data.get("words"):
        notes["dvbuild/schedule"] = values.data["words"]
    if package.secrets:
        notes["dvbuild/secrets"] = ", ".join(sorted(package.secrets))
    return notes


# --- rendering -----------------------------------------------------------------------


def template_dir() -> Path:
    """`templates/` as shipped in the wheel (dvbuild/templates), else in the source tree."""
    import dvbuild

    shipped = Path(dvbuild.__file__).parent / "templates"
    return shipped if shipped.is_dir() else Path(dvbuild.__file__).parent.parent / "templates"


@lru_cache(maxsize=4)
def _template(kind: str) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()), undefined=jinja2.StrictUndefined,
        autoescape=False, finalize=yaml_scalar, keep_trailing_newline=True,
    )
    return env.get_template(f"{kind}.yaml.j2")


def render_text(values: Values, kind: str) -> str:
    return str(_template(kind).render(**values.data))


def render_naisjob(settings: Settings, package: Package, image: str) -> str:
    """The Naisjob YAML for one package (not validated; raises on bad settings)."""
    return _render_checked(settings, package, image, "naisjob")


def render_cronjob(settings: Settings, package: Package, image: str) -> str:
    """The batch/v1 CronJob YAML for one package (not validated; raises on bad settings)."""
    return _render_checked(settings, package, image, "cronjob")


def _render_checked(settings: Settings, package: Package, image: str, kind: str) -> str:
    values = job_values(settings, package, image, kind)
    if values.problems:
        raise ConfigError(values.problems)
    return render_text(values, kind)


# --- validation ----------------------------------------------------------------------

# manifest field -> the Values key whose origin explains it
_FIELD_ORIGINS = {
    "resources": "resources", "env": "env", "envFrom": "env_from", "backoffLimit": "backoff_limit",
    "ttlSecondsAfterFinished": "ttl", "activeDeadlineSeconds": "active_deadline",
    "concurrencyPolicy": "concurrency_policy", "schedule": "schedule", "timeZone": "timezone",
    "image": "image", "namespace": "namespace", "team": "team", "command": "command",
    "failedJobsHistoryLimit": "failed_history", "successfulJobsHistoryLimit": "successful_history",
    "imagePullPolicy": "image_pull_policy", "imagePullSecrets": "image_pull_secrets",
    "accessPolicy": "outbound",
}


def manifest_problems(text: str, kind: str, values: Values) -> list[Problem]:
    """Parse the rendered text back and check it against the kind's schema."""
    import yaml

    try:
        document = load_yaml(text)
    except yaml.YAMLError as e:  # a template bug, but say where
        return [_problem(values, "", f"rendered {kind} is not YAML: {e}")]
    title = "Naisjob" if kind == "naisjob" else "CronJob"
    return [_problem(values, path, f"{title} {path}: {message}")
            for path, message in schemas.check(kind, document)]


class _Unusual(Exception):
    """A node the quick conversion does not handle; the full safe loader will."""


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, quicker for what the templates write: libyaml parses and resolves
    tags, then a small walk builds the objects (maps, lists, str, int, bool, null) instead
    of PyYAML's general constructor. Anything else goes through `yaml.safe_load` itself."""
    import yaml

    if not hasattr(yaml, "CSafeLoader"):
        return yaml.safe_load(text)
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is None:  # an empty document
        return None
    try:
        return _plain(node)
    except (_Unusual, TypeError):  # TypeError: a key that is a list or map
        return yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506 - safe loader


_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")


def _plain(node: Any) -> Any:
    tag, value = node.tag, node.value
    if tag == _TAG + "str":
        return value
    if tag == _TAG + "map":
        out = {_plain(k): _plain(v) for k, v in value}
        if len(out) != len(value) or any(k.tag == _TAG + "merge" for k, _ in value):
            raise _Unusual  # duplicate or merge keys: let PyYAML decide
        return out
    if tag == _TAG + "seq":
        return [_plain(v) for v in value]
    if tag == _TAG + "int" and _INT.match(value):
        return int(value)
    if tag == _TAG + "bool" and value in ("true", "false"):
        return value == "true"
    if tag == _TAG + "null" and value in ("null", "~", ""):
        return None
    raise _Unusual


def _problem(values: Values, path: str, message: str) -> Problem:
    parts = re.split(r"[.\[\]]+", path)
    key = next((_FIELD_ORIGINS[p] for p in reversed(parts) if p in _FIELD_ORIGINS), None)
    file, pointer = values.origins.get(key or "", (values.data["descriptor_file"], ""))
    return Problem(file, message, pointer=pointer)


# --- files ---------------------------------------------------------------------------


@dataclass
class RenderResult:
    written: list[Path] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)  # for --json
    skipped: list[str] = field(default_factory=list)  # packages without a schedule
    pruned: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def render_packages(settings: Settings, packages: list[Package], out: Path, *,
                    image: str | None = None, kind: str = "naisjob",
                    prune: Iterable[str] = ()) -> list[Path]:
    """Write OUT/<job name>.yaml for each scheduled package; remove the manifests of
    packages in `prune` (and of given packages that lost their schedule). Raises
    ConfigError (exit 2) after writing the others if any manifest is invalid."""
    result = render_all(settings, packages, out, image=image, kind=kind, prune=prune)
    if result.problems:
        raise ConfigError(result.problems)
    return result.written


def render_all(settings: Settings, packages: list[Package], out: Path, *,
               image: str | None = None, kind: str = "naisjob",
               prune: Iterable[str] = ()) -> RenderResult:
    if kind not in KINDS:
        raise UsageError(f"unknown manifest kind {kind!r}", hint="use naisjob or cronjob")
    if image is not None and not IMAGE_RE.match(image.replace("{name}", "x").replace("{hash}", "0")):
        raise UsageError(f"--image {image!r} is not an image reference",
                         hint="e.g. ghcr.io/team/{name}:1.2.3")
    result = RenderResult()
    existing = managed_manifests(out)
    images = _image_source(settings, image)
    _check_unique(packages)
    for package in packages:
        keep = _render_one(settings, package, out, kind, images, result)
        for path in existing.get(package.name, []):
            if path != keep:
                _remove(path, result)
    done = {p.name for p in packages}
    for name in prune:
        if name not in done:
            for path in existing.get(name, []):
                _remove(path, result)
    return result


def _render_one(settings: Settings, package: Package, out: Path, kind: str,
                images: Callable[[Package], str], result: RenderResult) -> Path | None:
    """The path written (or kept, when the package's input is bad), None if unscheduled."""
    path = out / f"{job_name(package.name)}.yaml"
    if not package.schedule:
        result.skipped.append(package.name)
        return None
    values = job_values(settings, package, images(package), kind)
    text = "" if values.problems else render_text(values, kind)
    problems = values.problems or manifest_problems(text, kind, values)
    if problems:
        result.problems.extend(problems)
        return path  # an invalid change keeps the last good manifest
    if not _same(path, text):  # an unchanged manifest keeps its file (and mtime)
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    result.written.append(path)
    result.manifests.append({"package": package.name, "path": str(path), "kind": kind,
                             "name": values.data["name"], "schedule": package.schedule,
                             "timezone": package.timezone, "image": values.data["image"]})
    return path


def _same(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _check_unique(packages: list[Package]) -> None:
    seen: dict[str, Package] = {}
    for p in packages:
        other = seen.setdefault(job_name(p.name), p)
        if other is not p:
            raise ConfigError(Problem(p.descriptor_file, f"job name {job_name(p.name)!r} is also "
                                      f"{other.name}'s", pointer="/name",
                                      expected="package names that differ after lowercasing"))


def _remove(path: Path, result: RenderResult) -> None:
    path.unlink(missing_ok=True)
    result.pruned.append(path)


_MANAGED_LINE = f"app.kubernetes.io/managed-by: {MANAGED_BY}\n"
_PACKAGE_LINE = re.compile(rf'^ +"{PACKAGE_KEY}": (".*")$', re.MULTILINE)


def managed_manifests(out: Path) -> dict[str, list[Path]]:
    """Package name -> manifests in OUT that dvbuild rendered (by label and annotation)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(out.glob("*.yaml")) if out.is_dir() else []:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        name = _managed_package(text)
        if name:
            found.setdefault(name, []).append(path)
    return found


def _managed_package(text: str) -> str | None:
    if PACKAGE_KEY not in text:
        return None
    m = _PACKAGE_LINE.search(text)
    if _MANAGED_LINE in text and m:  # as rendered: no need to parse the whole file
        return str(json.loads(m[1]))
    import yaml  # reformatted by someone: read it properly

    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError:
        return None
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return None
    labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
    if labels.get("app.kubernetes.io/managed-by") == MANAGED_BY and notes.get(PACKAGE_KEY):
        return str(notes[PACKAGE_KEY])
    return None


def _image_source(settings: Settings, image: str | None) -> Callable[[Package], str]:
    """--image (with optional {name}/{hash} placeholders), else the image step's tag."""
    if image is not None:
        def given(p: Package) -> str:
            if "{hash}" in image:
                return image.replace("{name}", p.name).replace("{hash}", _input_hash(settings, p))
            return image.replace("{name}", p.name)
        return given
    try:
        from dvbuild.image import image_ref
    except ImportError:
        return lambda p: _default_image(settings, p)
    return lambda p: str(image_ref(settings, p))


def _default_image(settings: Settings, package: Package) -> str:
    registry = (settings.config.registry or "").rstrip("/")
    ref = f"{package.name}:{_input_hash(settings, package)}"
    return f"{registry}/{ref}" if registry else ref


def _input_hash(settings: Settings, package: Package) -> str:
    from dvbuild.inputs import input_hash

    return input_hash(settings, package)
