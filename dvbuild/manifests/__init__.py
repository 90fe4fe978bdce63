"""Schedules → manifests: one NAIS Naisjob (or plain CronJob) per scheduled package.

    package + settings --values.job_values()--> values --render (template)--> YAML text
        --check (safe YAML load + schema)--> checked --files (write)--> OUT/<job name>.yaml

- `names`     job names (DNS-1123 labels) and the marks on dvbuild's manifests
- `values`    settings + package → the template's values (pure), helped by `spec`
              (retries, deadlines, resources), `runtime` (env, secret references)
              and `access` (outbound hosts); `images` picks the image reference
- `yamltext`  YAML-safe scalars out (the templates' `finalize`), quick safe load in
- `render`    the jinja templates: `render_naisjob`/`render_cronjob` (pure)
- `check`     parse back + schema validation (`dvbuild.schemas`)
- `files`     `render_packages`/`render_all`: validate, write, prune; `managed`
              finds the manifests dvbuild wrote

Values reach the YAML only through `yaml_scalar`, so nothing a datapackage.json says
can change the manifest's structure. A manifest that fails its schema is bad input
(exit 2), reported against the file and field it came from.
"""

from __future__ import annotations

from dvbuild.manifests.check import manifest_problems
from dvbuild.manifests.files import RenderResult, render_all, render_packages
from dvbuild.manifests.images import IMAGE_RE
from dvbuild.manifests.managed import managed_manifests
from dvbuild.manifests.names import KINDS, MANAGED_BY, MAX_NAME, PACKAGE_KEY, job_name
from dvbuild.manifests.render import (
    _render_checked,
    render_cronjob,
    render_naisjob,
    render_text,
    template_dir,
)
from dvbuild.manifests.runtime import ENV_NAME, VAULT_MOUNT
from dvbuild.manifests.spec import DEFAULTS, START_SLACK
from dvbuild.manifests.values import MAX_ANNOTATION, Values, job_values, shape_problems
from dvbuild.manifests.yamltext import load_yaml, yaml_scalar

__all__ = [
    "DEFAULTS", "ENV_NAME", "IMAGE_RE", "KINDS", "MANAGED_BY", "MAX_ANNOTATION", "MAX_NAME",
    "PACKAGE_KEY", "START_SLACK", "VAULT_MOUNT", "RenderResult", "Values", "_render_checked",
    "job_name", "job_values", "load_yaml", "managed_manifests", "manifest_problems",
    "render_all", "render_cronjob", "render_naisjob", "render_packages", "render_text",
    "shape_problems", "template_dir", "yaml_scalar",
]
