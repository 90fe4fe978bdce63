"""The Kubernetes CronJob schema that ships with `kubernetes-validate` (strict: unknown
fields rejected), read from the installed package's data files: no network, and no
import of kubernetes_validate itself (it imports jsonschema, which a valid manifest
never needs)."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from dvbuild.errors import MissingDependency

# The CronJob API has been batch/v1 with `timeZone` since 1.27; 1.30 is old
# enough for any cluster still supported and present in kubernetes-validate >= 1.30.
KUBERNETES_VERSION = "1.30.0"
FOLDER = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
FILES = ("cronjob-batch-v1.json", "_definitions.json")


def schema_files() -> list[Path]:
    """The installed files (cronjob schema, definitions); empty when they are not plain
    files (a zipped install), so `k8s_schemas` asks kubernetes_validate for them."""
    spec = find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise MissingDependency("kubernetes-validate", "k8s")
    folder = Path(spec.origin).parent / FOLDER
    paths = [folder / name for name in FILES]
    return paths if all(p.is_file() for p in paths) else []


def k8s_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """(cronjob schema, definitions) from the installed kubernetes-validate."""
    paths = schema_files()
    if paths:
        schema, defs = (json.loads(p.read_text(encoding="utf-8")) for p in paths)
        return dict(schema), dict(defs)
    from kubernetes_validate import utils  # raises its own "version not supported"

    found = [utils.schema_contents(f"{FOLDER}/{name}", KUBERNETES_VERSION) for name in FILES]
    return dict(found[0]), dict(found[1])


def cronjob_inline() -> dict[str, Any]:
    """The CronJob schema and the definitions it uses as one document (local refs only)."""
    schema, defs = k8s_schemas()
    text = json.dumps(schema).replace('"/api/_definitions.json#/$defs/', '"#/$defs/')
    document: dict[str, Any] = json.loads(text)
    document.pop("$schema", None)  # fastjsonschema compiles draft-07; the keywords used agree
    document.pop("$id", None)  # every ref is local now; so the validator is called `validate`
    document["$defs"] = reachable(document, defs["$defs"])
    return document


def reachable(root: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """Only the definitions a CronJob uses (a fifth of them), so compiling is quick."""
    found: dict[str, Any] = {}
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in found:
                    found[name] = defs[name]
                    todo.append(defs[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found
