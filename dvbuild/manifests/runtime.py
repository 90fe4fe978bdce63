"""What the pod needs at run time: env (names and plain values) and secret references.
Only references reach a manifest; values are resolved in the pod when it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dvbuild import secrets
from dvbuild.manifests.access import s3_endpoint
from dvbuild.manifests.pick import Notes, Picker
from dvbuild.manifests.spec import names
from dvbuild.package import Package
from dvbuild.settings import Settings

ENV_NAME = secrets.ENV_NAME_RE  # the one env-name rule
VAULT_MOUNT = "/var/run/secrets/nais.io/vault"


@dataclass(frozen=True)
class Runtime:
    env: list[dict[str, str]] = field(default_factory=list)  # [{name, value}]
    env_from: list[str] = field(default_factory=list)  # Secret names
    vault_paths: list[dict[str, str]] = field(default_factory=list)  # [{kv_path, mount_path}]


def environment(settings: Settings, package: Package, pick: Picker, notes: Notes,
                job: str, image: str = "") -> Runtime:
    """Env, the Secrets it comes from (`job`'s own by default) and Vault paths to mount;
    `image` is what the job runs, recorded by `dvbuild run` with what it publishes."""
    env = _plain_env(pick("env", {}), package, notes)
    env_names = {e["name"] for e in env}
    refs_env, vault_paths = _secret_refs(package, notes)
    runtime = {"DVBUILD_STORE": settings.config.store, "DVBUILD_CATALOG": settings.config.catalog,
               "VAULT_ADDR": settings.config.vault.get("address") if vault_paths else None,
               "AWS_ENDPOINT_URL": s3_endpoint(settings), **image_env(image)}
    env += [{"name": k, "value": _no_userinfo(str(u))} for k, u in runtime.items()
            if u and k not in env_names]
    # credentials (S3, catalog, webhook URL, `env:` secrets) come from one Secret per job
    needs = refs_env or runtime["AWS_ENDPOINT_URL"] or _scheme(settings.config.store) == "s3" \
        or _scheme(settings.config.catalog) in ("http", "https") or pick("webhook")
    env_from = names(pick("env_from", [job] if needs else []), "env_from", notes)
    return Runtime(env=env, env_from=env_from, vault_paths=vault_paths)


def job_env(settings: Settings, package: Package) -> dict[str, str]:
    """The plain `env` values the package's Naisjob sets (`job.env`, else `naisjob.env`
    in dvbuild.yaml), for `dvbuild run --image` to set too; a bad one is bad input."""
    from dvbuild.errors import ConfigError

    notes = Notes()
    env = _plain_env(Picker(settings, package, notes)("env", {}), package, notes)
    if notes.problems:
        raise ConfigError(notes.problems, hint="job.env holds NAME: value pairs")
    return {e["name"]: e["value"] for e in env}


def image_env(image: str) -> dict[str, str]:
    """DVBUILD_IMAGE_REF, and DVBUILD_IMAGE_DIGEST when the image is pinned by digest
    (`name@sha256:…`): a pod cannot learn its image's digest any other way."""
    if not image:
        return {}
    _, at, digest = image.partition("@")
    return {"DVBUILD_IMAGE_REF": image, **({"DVBUILD_IMAGE_DIGEST": digest} if at else {})}


def _scheme(url: str | None) -> str:
    return urlsplit(url or "").scheme


def _plain_env(spec: Any, package: Package, notes: Notes) -> list[dict[str, str]]:
    if isinstance(spec, list):  # [{name, value}] as in Kubernetes
        spec = {e.get("name"): e.get("value") for e in spec if isinstance(e, dict)}
    if not isinstance(spec, dict):
        notes.problem("env", f"env is {spec!r}", expected="a mapping NAME: value")
        return []
    env = []
    for name, value in spec.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            notes.problem("env", f"env name {name!r} is not valid",
                          expected="letters, digits and '_', not starting with a digit")
        elif name in package.secrets:
            notes.problem("env", f"{name} is both a plain env value and a secret",
                          expected="each name in either job.env or secrets")
        elif isinstance(value, dict | list):
            notes.problem("env", f"env {name} is {type(value).__name__}",
                          expected="a string, number or boolean")
        else:
            env.append({"name": name, "value": _env_text(value)})
    return env


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _secret_refs(package: Package, values: Notes) -> tuple[list[str], list[dict[str, str]]]:
    """Names of `env:` secrets (given to the pod by a Secret), and Vault paths to mount.
    Only references appear in the manifest; values are resolved in the pod at run time."""
    env_refs: list[str] = []
    paths: dict[str, dict[str, str]] = {}
    for name, ref in package.secrets.items():
        values.origins[f"secret:{name}"] = (package.descriptor_file, f"/secrets/{name}")
        try:
            parsed = secrets.parse(ref)  # the grammar `validate` and `run` apply too
        except secrets.SecretError as e:  # its message never echoes the reference
            values.problem(f"secret:{name}", f"secret {name}: {e.message}", expected=secrets.FORMS)
            continue
        if parsed.scheme == "env":
            env_refs.append(parsed.path)
        else:
            kv = parsed.path
            paths[kv] = {"kv_path": f"/{kv}", "mount_path": f"{VAULT_MOUNT}/{kv}"}
    return env_refs, list(paths.values())


def _no_userinfo(url: str) -> str:
    """Credentials written into a URL never reach a manifest."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
    return url
