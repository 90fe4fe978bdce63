"""A manifest checked against its kind's schema (`dvbuild.schemas`); each problem is
reported against the file and field its value came from."""

from __future__ import annotations

import re
from typing import Any

from dvbuild import schemas
from dvbuild.errors import Problem
from dvbuild.manifests.values import Values

# manifest field -> the setting whose origin explains it
_FIELD_ORIGINS = {
    "resources": "resources", "env": "env", "envFrom": "env_from", "backoffLimit": "backoff_limit",
    "ttlSecondsAfterFinished": "ttl", "activeDeadlineSeconds": "active_deadline",
    "concurrencyPolicy": "concurrency_policy", "schedule": "schedule", "timeZone": "timezone",
    "image": "image", "namespace": "namespace", "team": "team", "command": "command",
    "failedJobsHistoryLimit": "failed_jobs_history_limit",
    "successfulJobsHistoryLimit": "successful_jobs_history_limit",
    "imagePullPolicy": "image_pull_policy", "imagePullSecrets": "image_pull_secrets",
    "accessPolicy": "outbound",
}


def manifest_problems(manifest: dict[str, Any], kind: str, values: Values) -> list[Problem]:
    """What is wrong with the manifest, against its kind's schema."""
    title = "Naisjob" if kind == "naisjob" else "CronJob"
    return [_problem(values, path, f"{title} {path}: {message}")
            for path, message in schemas.check(kind, manifest)]


def _problem(values: Values, path: str, message: str) -> Problem:
    parts = re.split(r"[.\[\]]+", path)
    key = next((_FIELD_ORIGINS[p] for p in reversed(parts) if p in _FIELD_ORIGINS), None)
    file, pointer = values.origins.get(key or "", (values.descriptor_file, ""))
    return Problem(file, message, pointer=pointer)
