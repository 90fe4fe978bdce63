"""`dvbuild init`: a new package folder from the jinja2 templates in templates/package/.

`render_package` is pure (name -> {relative path: text}); `create_package`
checks the target and writes. A template `X.j2` becomes `X`; `gitignore.j2`
becomes `.gitignore` (dot files do not survive every packaging tool).
"""

from __future__ import annotations

import json
from pathlib import Path

from dvbuild import templating
from dvbuild.errors import ConfigError, UsageError
from dvbuild.package import DESCRIPTOR, DESCRIPTORS, name_problem

WORKFLOW = Path(".github") / "workflows" / "dvbuild.yml"
WORKFLOW_FILES = ("dvbuild.yml", "dvbuild-comment.yml")


def default_title(name: str) -> str:
    return name.replace("-", " ").replace("_", " ").strip().capitalize()


def check_name(name: str) -> None:
    if name_problem(name):
        raise UsageError(f"package name {name!r} is not a lowercase slug",
                         hint="use a-z, 0-9, '-', '_' and '.', starting with a letter or digit")


def render_package(name: str, title: str, folder: str) -> dict[str, str]:
    """{relative path: content} for a new package."""
    env = templating.environment()
    values = {"name": name, "title": title, "folder": folder}
    files = {}
    for template in sorted((templating.templates_dir() / "package").glob("*.j2")):
        target = template.name.removesuffix(".j2")
        if target == "gitignore":
            target = ".gitignore"
        files[target] = templating.render(f"package/{template.name}", values, env)
    json.loads(files[DESCRIPTOR])  # a template bug must not write a broken package
    json.loads(files["main.ipynb"])
    return files


def target_problem(folder: Path) -> str | None:
    """Why a package may not be created in `folder`, or None."""
    if folder.exists() and not folder.is_dir():
        return f"{folder} exists and is not a folder"
    if folder.is_dir() and any(folder.iterdir()):
        return f"{folder} already exists and is not empty; dvbuild init never overwrites"
    for parent in folder.parents:
        if any((parent / n).is_file() for n in DESCRIPTORS):
            return f"{folder} is inside the package folder {parent}; packages do not nest"
    return None


def create_package(folder: Path, name: str, title: str, display: str) -> list[Path]:
    check_name(name)
    problem = target_problem(folder)
    if problem:
        raise UsageError(problem, hint="choose another --dir, or remove the folder first")
    files = render_package(name, title, display)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, text in files.items():
        path = folder / rel
        path.write_text(text, encoding="utf-8")
        written.append(path)
    _self_check(folder)
    return written


def _self_check(folder: Path) -> None:
    from dvbuild.package import parse_descriptor
    from dvbuild.validate.packages import descriptor_problems

    _, descriptor = parse_descriptor(folder / DESCRIPTOR, str(folder / DESCRIPTOR))
    problems = descriptor_problems(descriptor, str(folder / DESCRIPTOR), folder)
    if problems:  # pragma: no cover - a template bug
        raise ConfigError(problems, hint="the package templates are broken; please report this")


def copy_workflow(repo_root: Path) -> Path:
    """Copy the team workflows (dvbuild.yml, and dvbuild-comment.yml that posts fork PRs'
    comments) to .github/workflows/; never overwrites. Returns dvbuild.yml's path."""
    sources = [templating.templates_dir() / "workflow" / f for f in WORKFLOW_FILES]
    for source in sources:
        if not source.is_file():
            raise UsageError(f"the workflow template {source} is missing from this dvbuild",
                             hint="reinstall dvbuild, or copy the workflow from its documentation")
    targets = [repo_root / WORKFLOW.parent / f for f in WORKFLOW_FILES]
    for target in targets:
        if target.exists():
            raise UsageError(f"{target} already exists; dvbuild init never overwrites",
                             hint="compare it with the template by hand, or drop --with-workflow")
    targets[0].parent.mkdir(parents=True, exist_ok=True)
    for source, target in zip(sources, targets, strict=True):
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return targets[0]
