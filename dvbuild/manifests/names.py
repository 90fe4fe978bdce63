"""Job names (DNS-1123 labels) and the marks dvbuild puts on the manifests it writes."""

from __future__ import annotations

import hashlib
import re

KINDS = ("naisjob", "cronjob")
MANAGED_BY = "dvbuild"
PACKAGE_KEY = "dvbuild/package"
# Kubernetes names a CronJob's Jobs `<name>-<11 digits>`, so a CronJob name (and the
# Naisjob's, which NAIS turns into one) must stay within 52 characters, not 63.
MAX_NAME = 52


def job_name(package_name: str) -> str:
    """A DNS-1123 label (≤ 52 chars) for a package name; a name that had to change
    carries a hash of the original, so `a_b`, `a.b` and `a-b` stay distinct."""
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", package_name.lower())).strip("-")
    if slug == package_name and len(slug) <= MAX_NAME:
        return slug
    digest = hashlib.sha256(package_name.encode()).hexdigest()[:8]
    head = slug[: MAX_NAME - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else f"job-{digest}"
