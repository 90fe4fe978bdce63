"""Tell someone when a production run fails: a Slack-compatible incoming webhook.

`DVBUILD_NOTIFY_WEBHOOK` names the URL. The message is plain `{"text": ...}`
(which Slack, Mattermost, Rocket.Chat and Teams' Slack-compatible hooks all
accept), masked like every other output. A webhook that does not answer is
logged, never raised: the run's own failure is what must surface.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dvbuild import console

if TYPE_CHECKING:
    from dvbuild.notebooks.report import Report

ENV_VAR = "DVBUILD_NOTIFY_WEBHOOK"
TIMEOUT = 10


def failure_text(report: Report, problem: str) -> str:
    lines = [f":red_circle: dvbuild run of *{report.get('package')}* {report.get('status', 'failed')}: "
             f"{problem}"]
    for nb in report.get("notebooks", []):
        err = nb.get("error") or {}
        if err:
            lines.append(f"{nb.get('path')} cell {err.get('cell_number')}: "
                         f"{err.get('ename')}: {err.get('evalue')}")
    if report.get("commit"):
        lines.append(f"commit {str(report['commit'])[:12]}")
    return "\n".join(lines)


def post(url: str, text: str) -> bool:
    body = json.dumps({"text": console.redact(text)}).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            status = int(response.status)
            ok = 200 <= status < 300
    except (urllib.error.URLError, OSError, ValueError) as e:
        console.log(f"warning: the failure webhook did not answer: {e}")
        return False
    if not ok:
        console.log(f"warning: the failure webhook answered {status}")
    return ok


def notify_failure(environ: Mapping[str, str], report: Report, problem: str) -> bool:
    url = environ.get(ENV_VAR)
    return post(url, failure_text(report, problem)) if url else False
