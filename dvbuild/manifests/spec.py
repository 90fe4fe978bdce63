"""The job's own settings: retries, deadlines, history, resources, command, pull secrets."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from dvbuild.package import Package

if TYPE_CHECKING:
    from dvbuild.manifests.values import Picker, Values

DEFAULTS: dict[str, Any] = {
    "backoff_limit": 1, "concurrency_policy": "Forbid", "ttl": 86400,
    "failed_jobs_history_limit": 3, "successful_jobs_history_limit": 1,
}
START_SLACK = 600  # seconds on top of the notebooks' timeouts: pull, start, publish
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def job_settings(pick: Picker, package: Package, values: Values) -> None:
    v = values.data
    policy = pick("concurrency_policy", DEFAULTS["concurrency_policy"])
    v["concurrency_policy"] = policy.capitalize() if isinstance(policy, str) else policy
    v["backoff_limit"] = pick("backoff_limit", DEFAULTS["backoff_limit"])
    v["ttl"] = seconds(pick("ttl", DEFAULTS["ttl"]), values, "ttl")
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
    v["image_pull_secrets"] = names(pick("image_pull_secrets", []), "image_pull_secrets", values)


def seconds(value: Any, values: Values, key: str) -> Any:
    """`ttl`: seconds as a number, or '30m', '12h', '7d'."""
    if isinstance(value, bool):
        pass
    elif isinstance(value, int | float) and value >= 0:
        return int(value)
    elif isinstance(value, str) and (m := _DURATION.match(value.strip())):
        return int(m[1]) * _UNIT[m[2]]
    values.problem(key, f"{key} is {value!r}", expected="seconds, or a duration like '12h' or '7d'")
    return 0


def resources(spec: Any, values: Values) -> dict[str, dict[str, Any]]:
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


def names(value: Any, key: str, values: Values) -> list[str]:
    """A list of Secret names, as `env_from` and `image_pull_secrets` take."""
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return list(value)
    values.problem(key, f"{key} is {value!r}", expected="a list of Secret names")
    return []
