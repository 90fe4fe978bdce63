"""The schemas rendered manifests are checked against.

- Naisjob: the CRD bundled next to this file (source in SOURCE.md), its OpenAPI
  schema converted to JSON Schema (`openapi`).
- CronJob: the Kubernetes JSON schemas that ship with `kubernetes-validate`,
  strict mode (unknown fields rejected), for KUBERNETES_VERSION, read from the
  installed package: no network (`kubernetes`).

`check` answers "valid?" with a compiled validator (`compiled`: fastjsonschema,
cached on disk), and only for an invalid manifest runs jsonschema for the full
list of errors. `metadata_problems` adds what the API server checks in metadata
that neither schema states.

`report` is the JSON Schema of report.json, which `dvbuild comment` checks the
(possibly a fork's) reports against before rendering them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from dvbuild.schemas.compiled import fast as _fast
from dvbuild.schemas.kubernetes import KUBERNETES_VERSION, k8s_schemas
from dvbuild.schemas.openapi import HERE, NAISJOB_CRD, naisjob_schema, openapi_to_jsonschema

__all__ = [
    "HERE", "KUBERNETES_VERSION", "NAISJOB_CRD", "check", "cronjob_validator", "errors",
    "metadata_problems", "naisjob_schema", "naisjob_validator", "openapi_to_jsonschema",
]
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


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

    schema, defs = k8s_schemas()
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
        found += full or [(_fast_path(e.message), str(e.message))]
    return found


def _fast_path(message: str) -> str:
    """`spec.x[0]` from fastjsonschema's "data.spec.x[0] must be ..." (its short exceptions)."""
    return message.split(" ", 1)[0].removeprefix("data").lstrip(".")


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
