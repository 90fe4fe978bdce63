"""A rendered manifest, parsed back safely and checked against its kind's schema;
each problem is reported against the file and field its value came from."""

from __future__ import annotations

import re

from dvbuild import schemas
from dvbuild.errors import Problem
from dvbuild.manifests.values import Values
from dvbuild.manifests.yamltext import load_yaml

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


def _problem(values: Values, path: str, message: str) -> Problem:
    parts = re.split(r"[.\[\]]+", path)
    key = next((_FIELD_ORIGINS[p] for p in reversed(parts) if p in _FIELD_ORIGINS), None)
    file, pointer = values.origins.get(key or "", (values.data["descriptor_file"], ""))
    return Problem(file, message, pointer=pointer)
