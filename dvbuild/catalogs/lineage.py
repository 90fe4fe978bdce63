"""Lineage: which upstream versions a published version read, and which versions read it.

Every version document in the catalog carries `inputs` (one entry per `read_dp`
call of the run that made it: name, version, resource, sha256). Upstream is that
list, followed recursively; downstream is every version document whose inputs
name this version, followed the same way. A version seen twice on one path is a
cycle (which `validate` refuses for `reads`, but old data may hold one): it is
shown once, marked, and not followed again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from dvbuild.catalogs import Catalog
from dvbuild.errors import UsageError

MAX_DEPTH = 32


class Node(TypedDict, total=False):
    name: str
    version: str
    resources: list[str]  # what was read (upstream edges only)
    published: str | None
    cycle: bool
    missing: bool  # named by an input, but no version document in the catalog
    upstream: list[Node]
    downstream: list[Node]


def lineage(catalog: Catalog, name: str, version: str | None = None) -> Node:
    """The version (default: the package's newest) with its upstream and downstream trees."""
    index = _Index(catalog)
    doc = index.version(name, version)
    if doc is None:
        wanted = f"{name}@{version}" if version else name
        raise UsageError(f"{wanted}: no published version in the catalog {catalog.url}",
                         hint="publish it first, or check the name with `dvbuild status`")
    root = _node(doc)
    root["upstream"] = _upstream(index, doc, (_key(doc),), 0)
    root["downstream"] = _downstream(index, _key(doc), (_key(doc),), 0)
    return root


def tree_text(root: Node) -> str:
    """The lineage as an indented tree: upstream above, downstream below."""
    lines = [_label(root)]
    lines += ["upstream (what it read):"] + (_branch(root.get("upstream", []), "upstream", "  ")
                                            or ["  (none)"])
    lines += ["downstream (what read it):"] + (_branch(root.get("downstream", []), "downstream", "  ")
                                              or ["  (none)"])
    return "\n".join(lines)


def _branch(nodes: list[Node], direction: str, indent: str) -> list[str]:
    lines: list[str] = []
    for i, node in enumerate(nodes):
        last = i == len(nodes) - 1
        lines.append(f"{indent}{'└─' if last else '├─'} {_label(node)}")
        child = indent + ("   " if last else "│  ")
        children = node.get("upstream", []) if direction == "upstream" else node.get("downstream", [])
        lines += _branch(children, direction, child)
    return lines


def _label(node: Node) -> str:
    text = f"{node['name']} {node['version']}"
    if node.get("resources"):
        text += f" [{', '.join(node['resources'])}]"
    if node.get("published"):
        text += f" (published {node['published']})"
    if node.get("missing"):
        text += " (not in the catalog)"
    if node.get("cycle"):
        text += " (cycle: shown above)"
    return text


def _key(doc: Mapping[str, Any]) -> tuple[str, str]:
    return str(doc.get("name")), str(doc.get("version"))


def _node(doc: Mapping[str, Any]) -> Node:
    return Node(name=str(doc.get("name")), version=str(doc.get("version")),
                published=doc.get("published"))


def _upstream(index: _Index, doc: Mapping[str, Any], path: tuple[tuple[str, str], ...],
              depth: int) -> list[Node]:
    found: list[Node] = []
    for (name, version), resources in _grouped_inputs(doc.get("inputs") or []).items():
        upstream = index.version(name, version)
        node = _node(upstream) if upstream else Node(name=name, version=version, missing=True)
        node["resources"] = resources
        if (name, version) in path or depth >= MAX_DEPTH:
            node["cycle"] = True
        elif upstream is not None:
            node["upstream"] = _upstream(index, upstream, (*path, (name, version)), depth + 1)
        found.append(node)
    return found


def _downstream(index: _Index, key: tuple[str, str], path: tuple[tuple[str, str], ...],
                depth: int) -> list[Node]:
    found: list[Node] = []
    for reader in index.readers(key):
        node = _node(reader)
        if _key(reader) in path or depth >= MAX_DEPTH:
            node["cycle"] = True
        else:
            node["downstream"] = _downstream(index, _key(reader), (*path, _key(reader)), depth + 1)
        found.append(node)
    return found


def _grouped_inputs(inputs: Iterable[Any]) -> dict[tuple[str, str], list[str]]:
    grouped: dict[tuple[str, str], list[str]] = {}
    for entry in inputs:
        if isinstance(entry, Mapping) and entry.get("name") and entry.get("version"):
            resources = grouped.setdefault((str(entry["name"]), str(entry["version"])), [])
            label = str(entry.get("resource") or "datapackage.json")
            if label not in resources:
                resources.append(label)
    return grouped


class _Index:
    """Version documents read once per package, and who read what."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._versions: dict[str, list[dict[str, Any]]] = {}
        self._readers: dict[tuple[str, str], list[dict[str, Any]]] | None = None

    def versions(self, name: str) -> list[dict[str, Any]]:
        if name not in self._versions:
            self._versions[name] = self.catalog.versions(name)
        return self._versions[name]

    def version(self, name: str, version: str | None) -> dict[str, Any] | None:
        docs = self.versions(name)
        if version is None:
            return docs[0] if docs else None
        return next((d for d in docs if d.get("version") == version), None)

    def readers(self, key: tuple[str, str]) -> list[dict[str, Any]]:
        if self._readers is None:
            self._readers = {}
            for package in self.catalog.packages():
                for doc in self.versions(str(package.get("name"))):
                    for upstream in _grouped_inputs(doc.get("inputs") or []):
                        self._readers.setdefault(upstream, []).append(doc)
        return sorted(self._readers.get(key, []), key=lambda d: (str(d.get("name")),
                                                                 str(d.get("published"))))
