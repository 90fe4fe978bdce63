"""The Naisjob CRD's `openAPIV3Schema` as JSON Schema (draft 7).

`nullable`, `x-kubernetes-int-or-string` and `format: int32/int64` become plain
JSON Schema; objects with `properties` reject unknown keys (the API server would
silently prune them, so a typo would vanish without a word) unless marked
`x-kubernetes-preserve-unknown-fields`. CEL rules (`x-kubernetes-validations`)
cannot be evaluated here; the top-level one (name length) is checked by
`dvbuild.schemas.metadata_problems`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
NAISJOB_CRD = HERE / "nais.io_naisjobs.yaml"
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
