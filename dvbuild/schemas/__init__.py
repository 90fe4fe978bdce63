"""The schemas rendered manifests are checked against, compiled once per process.

- Naisjob: the CRD bundled next to this file (source in SOURCE.md). Its
  `openAPIV3Schema` is OpenAPI, not JSON Schema, so it is converted first:
  `nullable`, `x-kubernetes-int-or-string` and `format: int32/int64` become
  plain JSON Schema; objects with `properties` reject unknown keys (the API
  server would silently prune them, so a typo would vanish without a word)
  unless marked `x-kubernetes-preserve-unknown-fields`. CEL rules
  (`x-kubernetes-validations`) cannot be evaluated here; the one on the
  top level (name length) is checked by `metadata_problems`.
- CronJob: the Kubernetes JSON schemas that ship with `kubernetes-validate`,
  strict mode (unknown fields rejected), for KUBERNETES_VERSION. The files
  are loaded from the installed package: no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from dvbuild.errors import MissingDependency

HERE = Path(__file__).parent
NAISJOB_CRD = HERE / "nais.io_naisjobs.yaml"
# The CronJob API has been batch/v1 with `timeZone` since 1.27; 1.30 is old
# enough for any cluster still supported and present in kubernetes-validate >= 1.30.
KUBERNETES_VERSION = "1.30.0"
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def openapi_to_jsonschema(node: Any) -> Any:
    """A JSON Schema (draft 7) equivalent of one Kubernetes structural OpenAPI v3 schema."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: openapi_to_jsonschema(v) for k, v in value.items()}
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "format"):
            continue
        else:
            out[key] = openapi_to_jsonschema(value)
    return _openapi_extras(node, out)


def _openapi_extras(node: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("format") in INT_RANGES and node.get("type") == "integer":
        out["minimum"], out["maximum"] = INT_RANGES[node["format"]]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    open_ = node.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in node
    if "properties" in node and not open_:
        out["additionalProperties"] = False
    return out


def _load_yaml(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - safe loader


def naisjob_schema() -> dict[str, Any]:
    crd = _load_yaml(NAISJOB_CRD)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema: dict[str, Any] = openapi_to_jsonschema(version["schema"]["openAPIV3Schema"])
    # apiVersion/kind are implied by the endpoint for the API server; a file must say them
    schema["properties"]["apiVersion"] = {"const": "nais.io/v1"}
    schema["properties"]["kind"] = {"const": "Naisjob"}
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return schema


@lru_cache(maxsize=1)
def naisjob_validator() -> Any:
    from jsonschema import Draft7Validator

    schema = naisjob_schema()
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@lru_cache(maxsize=1)
def cronjob_validator() -> Any:
    """kubernetes-validate's strict CronJob schema, compiled once (its own `validate()`
    re-reads the schema files on every call, too slow for a thousand manifests)."""
    import jsonschema
    from referencing import Registry, Resource

    schema, defs = _k8s_schemas()
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(defs) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def check(kind: str, document: Any) -> list[tuple[str, str]]:
    """(dotted path, message) for everything wrong with a manifest of `kind`.

    A compiled validator (fastjsonschema) answers "valid?" in a tenth of a
    millisecond; only an invalid document pays for jsonschema's full report.
    """
    from fastjsonschema import JsonSchemaValueException

    found = list(metadata_problems(document.get("metadata") if isinstance(document, dict)
                                   else None))
    try:
        _fast(kind)(document)
    except JsonSchemaValueException as e:
        full = list(errors(naisjob_validator() if kind == "naisjob" else cronjob_validator(),
                           document))
        found += full or [(_dotted(str(e.path[1:])), str(e.message))]
    return found


@lru_cache(maxsize=2)
def _fast(kind: str) -> Any:
    import fastjsonschema

    schema = naisjob_schema() if kind == "naisjob" else _cronjob_inline()
    return fastjsonschema.compile(schema, use_formats=False)


def _cronjob_inline() -> dict[str, Any]:
    """The CronJob schema and its definitions as one document (local refs only)."""
    schema, defs = _k8s_schemas()
    text = json.dumps(schema).replace('"/api/_definitions.json#/$defs/', '"#/$defs/')
    document: dict[str, Any] = json.loads(text)
    document.pop("$schema", None)  # fastjsonschema compiles draft-07; the keywords used agree
    document["$defs"] = _reachable(document, defs["$defs"])
    return document


def _reachable(root: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """Only the definitions a CronJob uses (a tenth of them), so compiling is quick."""
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


def _k8s_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """(cronjob schema, definitions) from the installed kubernetes-validate: no network."""
    try:
        from kubernetes_validate import utils
    except ImportError:
        raise MissingDependency("kubernetes-validate", "k8s") from None
    folder = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
    schema = utils.schema_contents(f"{folder}/cronjob-batch-v1.json", KUBERNETES_VERSION)
    defs = utils.schema_contents(f"{folder}/_definitions.json", KUBERNETES_VERSION)
    return dict(schema), dict(defs)


def errors(validator: Any, document: Any) -> Iterator[tuple[str, str]]:
    """(dotted path, message) for every schema error, most specific first."""
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
        yield _dotted(error.absolute_path), _message(error)


def _dotted(path: Any) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


def _message(error: Any) -> str:
    if error.validator == "additionalProperties" and error.validator_value is False:
        return f"unknown field: {error.message}"
    if len(error.message) > 300:
        return str(error.message)[:300] + "..."
    return str(error.message)


def metadata_problems(metadata: Any) -> Iterator[tuple[str, str]]:
    """What the API server checks in metadata that neither schema states."""
    if not isinstance(metadata, dict):
        yield "metadata", "is not a mapping"
        return
    name = metadata.get("name")
    if not isinstance(name, str) or not DNS1123_LABEL.match(name) or len(name) > 63:
        yield "metadata.name", f"{name!r} is not a DNS-1123 label of at most 63 characters"
    namespace = metadata.get("namespace")
    if namespace is not None and (not isinstance(namespace, str)
                                  or not DNS1123_LABEL.match(namespace) or len(namespace) > 63):
        yield "metadata.namespace", f"{namespace!r} is not a DNS-1123 label"
    for key, value in (metadata.get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            yield f"metadata.labels.{key}", f"{value!r} is not a valid label value"
