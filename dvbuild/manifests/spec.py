"""The job's own settings: retries, deadlines, history, resources, command, pull secrets."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from dvbuild.manifests.pick import Notes, Picker
from dvbuild.package import Package

DEFAULTS: dict[str, Any] = {
    "backoff_limit": 1, "concurrency_policy": "Forbid", "ttl": 86400,
    "failed_jobs_history_limit": 3, "successful_jobs_history_limit": 1,
}
START_SLACK = 600  # seconds on top of the notebooks' timeouts: pull, start, publish
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class JobSpec:
    """Retries, deadlines, history and how the container starts (settings may be of any
    JSON type here: the schema check reports the wrong ones)."""

    concurrency_policy: Any = DEFAULTS["concurrency_policy"]
    backoff_limit: Any = DEFAULTS["backoff_limit"]
    ttl: Any = DEFAULTS["ttl"]
    failed_history: Any = DEFAULTS["failed_jobs_history_limit"]
    successful_history: Any = DEFAULTS["successful_jobs_history_limit"]
    active_deadline: int = 0
    command: list[str] | None = None
    image_pull_policy: Any = None
    image_pull_secrets: list[str] = field(default_factory=list)


def job_spec(pick: Picker, package: Package, notes: Notes) -> JobSpec:
    policy = pick("concurrency_policy", DEFAULTS["concurrency_policy"])
    backoff_limit = pick("backoff_limit", DEFAULTS["backoff_limit"])
    ttl = seconds(pick("ttl", DEFAULTS["ttl"]), notes, "ttl")
    failed, successful = (pick(key, DEFAULTS[key]) for key in (
        "failed_jobs_history_limit", "successful_jobs_history_limit"))
    command = pick("command")
    if command is not None and (not isinstance(command, list)
                                or not all(isinstance(c, str) for c in command)):
        notes.problem("command", f"command is {command!r}", expected="a list of strings")
        command = None
    return JobSpec(
        concurrency_policy=policy.capitalize() if isinstance(policy, str) else policy,
        backoff_limit=backoff_limit, ttl=ttl, failed_history=failed,
        successful_history=successful, command=command,
        active_deadline=math.ceil(package.timeout * max(1, len(package.notebooks))) + START_SLACK,
        image_pull_policy=pick("image_pull_policy"),
        image_pull_secrets=names(pick("image_pull_secrets", []), "image_pull_secrets", notes),
    )


def seconds(value: Any, notes: Notes, key: str) -> Any:
    """`ttl`: seconds as a number, or '30m', '12h', '7d'."""
    if isinstance(value, bool):
        pass
    elif isinstance(value, int | float) and value >= 0:
        return int(value)
    elif isinstance(value, str) and (m := _DURATION.match(value.strip())):
        return int(m[1]) * _UNIT[m[2]]
    notes.problem(key, f"{key} is {value!r}", expected="seconds, or a duration like '12h' or '7d'")
    return 0


def resources(spec: Any, notes: Notes) -> dict[str, dict[str, Any]]:
    """`{cpu, memory}` asks for that much and caps memory at it (CPU is not capped, so a
    job may use idle cores); `{requests: {...}, limits: {...}}` is taken as written."""
    if not isinstance(spec, dict):
        notes.problem("resources", f"resources is {spec!r}",
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


def names(value: Any, key: str, notes: Notes) -> list[str]:
    """A list of Secret names, as `env_from` and `image_pull_secrets` take."""
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return list(value)
    notes.problem(key, f"{key} is {value!r}", expected="a list of Secret names")
    return []
