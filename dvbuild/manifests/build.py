"""Values → manifest: the Naisjob and the plain batch/v1 CronJob as plain dicts (pure).
Values are placed, never parsed, so nothing a datapackage.json says can change the
manifest's structure. Optional fields are left out when empty, as NAIS and Kubernetes
would default them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dvbuild.manifests.names import MANAGED_BY
from dvbuild.manifests.values import Values

NAME_LABEL, MANAGED_LABEL = "app.kubernetes.io/name", "app.kubernetes.io/managed-by"


def naisjob(v: Values) -> dict[str, Any]:
    """A NAIS Naisjob (nais.io/v1)."""
    spec: dict[str, Any] = {"image": v.image}
    _put(spec, command=v.job.command)
    spec.update(schedule=v.schedule, timeZone=v.timezone,
                concurrencyPolicy=v.job.concurrency_policy, restartPolicy="Never",
                **_retries(v), **_history(v))
    _put(spec, resources=v.resources, env=v.runtime.env,
         envFrom=[{"secret": s} for s in v.runtime.env_from])
    if v.runtime.vault_paths:
        spec["vault"] = {"enabled": True, "paths": [
            {"kvPath": p["kv_path"], "mountPath": p["mount_path"]} for p in v.runtime.vault_paths]}
    if v.hosts:
        spec["accessPolicy"] = {"outbound": {"external": [_host(h) for h in v.hosts]}}
    return {"apiVersion": "nais.io/v1", "kind": "Naisjob",
            "metadata": _metadata(v, {"team": v.team}), "spec": spec}


def cronjob(v: Values) -> dict[str, Any]:
    """A plain Kubernetes batch/v1 CronJob, for clusters without NAIS (no team needed)."""
    container: dict[str, Any] = {"name": v.name, "image": v.image}
    _put(container, imagePullPolicy=v.job.image_pull_policy, command=v.job.command,
         resources=v.resources, env=v.runtime.env,
         envFrom=[{"secretRef": {"name": s}} for s in v.runtime.env_from])
    pod: dict[str, Any] = {"restartPolicy": "Never"}
    _put(pod, imagePullSecrets=[{"name": s} for s in v.job.image_pull_secrets])
    pod["containers"] = [container]
    job = {"metadata": {"labels": {NAME_LABEL: v.name, MANAGED_LABEL: MANAGED_BY}},
           "spec": {**_retries(v), "template": {"metadata": {"labels": {NAME_LABEL: v.name}},
                                               "spec": pod}}}
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": _metadata(v, {"team": v.team} if v.team else {}),
            "spec": {"schedule": v.schedule, "timeZone": v.timezone,
                     "concurrencyPolicy": v.job.concurrency_policy, **_history(v),
                     "jobTemplate": job}}


BUILDERS: dict[str, Callable[[Values], dict[str, Any]]] = {"naisjob": naisjob, "cronjob": cronjob}


def document(values: Values, kind: str) -> dict[str, Any]:
    """The manifest of `kind` (one of names.KINDS) for these values."""
    manifest: dict[str, Any] = _json(BUILDERS[kind](values))
    return manifest


def _json(node: Any) -> Any:
    """A fresh copy (so no object appears twice) in which JSON's 2.0 is the integer 2."""
    if isinstance(node, dict):
        return {k: _json(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json(v) for v in node]
    return int(node) if isinstance(node, float) and node.is_integer() else node


def _metadata(v: Values, team: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": v.name}
    _put(meta, namespace=v.namespace)
    meta["labels"] = {**team, NAME_LABEL: v.name, MANAGED_LABEL: MANAGED_BY}
    meta["annotations"] = dict(v.annotations)
    return meta


def _retries(v: Values) -> dict[str, Any]:
    """Per run: retries, the deadline, and how long a finished run is kept."""
    return {"backoffLimit": v.job.backoff_limit, "activeDeadlineSeconds": v.job.active_deadline,
            "ttlSecondsAfterFinished": v.job.ttl}


def _history(v: Values) -> dict[str, Any]:
    return {"failedJobsHistoryLimit": v.job.failed_history,
            "successfulJobsHistoryLimit": v.job.successful_history}


def _host(host: dict[str, Any]) -> dict[str, Any]:
    return {"host": host["host"], "ports": [{"port": host["port"]}]} if host.get("port") \
        else {"host": host["host"]}


def _put(target: dict[str, Any], **fields: Any) -> None:
    """Set the fields that have a value (an empty list or mapping is no value)."""
    target.update((k, v) for k, v in fields.items() if v)
