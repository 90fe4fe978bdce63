"""Schedules → manifests: one NAIS Naisjob (or plain CronJob) per scheduled package.

    settings + package --values.job_values()--> Values (one record; where each setting
        came from) --build.document()--> dict --check (schema)--> --render (YAML text)-->
        --files (write, prune)--> OUT/<job name>.yaml

- `pick`      a job setting (`job.<key>`, else dvbuild.yaml `naisjob.<key>`, else a
              default) and `Notes`: each setting's origin, the problems found
- `spec`, `runtime`, `access`   the parts of a job: retries, deadlines, resources
              (`JobSpec`); env and secret references (`Runtime`); outbound hosts
- `images`    which image a job runs (`dvbuild.image.naming.image_ref`, or `--image`)
- `values`    settings + package → `Values`, built from the parts (pure)
- `build`     `Values` → the Naisjob / CronJob as a plain dict (pure)
- `check`     the dict against its schema (`dvbuild.schemas`), problems traced to their source
- `render`    build + check + `yaml.dump` (safe representers) behind a header comment:
              `render_naisjob`/`render_cronjob` (pure)
- `files`     `render_packages`/`render_all`: render, write, prune; `managed` finds the
              manifests dvbuild wrote (by label and annotation)
- `names`     job names (DNS-1123 labels) and the marks on dvbuild's manifests

Values are placed in the dict, never pasted into text, so nothing a datapackage.json
says can change the manifest's structure. A manifest that fails its schema is bad input
(exit 2), reported against the file and field it came from.
"""

from __future__ import annotations

from dvbuild.manifests.files import RenderResult, render_all, render_packages
from dvbuild.manifests.managed import managed_manifests
from dvbuild.manifests.names import KINDS, job_name
from dvbuild.manifests.render import render_cronjob, render_naisjob
from dvbuild.manifests.values import Values, job_values

__all__ = [
    "KINDS", "RenderResult", "Values", "job_name", "job_values", "managed_manifests",
    "render_all", "render_cronjob", "render_naisjob", "render_packages",
]
