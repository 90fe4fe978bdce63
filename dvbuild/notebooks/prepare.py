"""Before any kernel starts: validate, resolve secrets, copy the folder, build the job.

The package folder is copied to OUT/<name>/ (fresh) and run there, so the git
checkout is never written to and OUT/<name>/ ends up a complete package
directory. `depends_on` folders stay where they are in the monorepo and are put
on the kernel's PYTHONPATH (each folder itself, and the monorepo root, so both
`import mylib` and `import shared.mylib` work).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvbuild.errors import DvbuildError, UsageError
from dvbuild.notebooks.report import Report, new_report
from dvbuild.package import Package
from dvbuild.settings import Settings

IGNORED = (".ipynb_checkpoints", "__pycache__", ".git", ".DS_Store")


@dataclass
class Prepared:
    package: Package
    dir: Path
    report: Report
    job: dict[str, Any] | None = None  # None: the package failed before running
    secrets: dict[str, str] = field(default_factory=dict)  # env var -> value, for the sweep
    baseline: dict[str, str] = field(default_factory=dict)  # the fresh copy's sha256s


def base_report(settings: Settings, package: Package, mode: str) -> Report:
    """The report's provenance: mode, parameters, commit, input hash, image and CI run."""
    return new_report(package.name, package.path, mode=mode, commit=_commit(settings, mode),
                      input_hash=_input_hash(settings, package, mode),
                      parameters=parameters_for(package, mode), image=settings.image.as_dict(),
                      run_url=settings.github.run_url)


def parameters_for(package: Package, mode: str) -> dict[str, Any]:
    """What the notebooks run with: `test_parameters` in a test run, else `parameters`."""
    return dict(package.test_parameters if mode == "test" else package.parameters)


def _commit(settings: Settings, mode: str) -> str | None:
    from dvbuild import gitio

    env = settings.environ.get("DVBUILD_COMMIT") or None
    if mode == "run" and env:
        return env
    try:
        return gitio.git("rev-parse", "HEAD", cwd=settings.git_root).decode().strip() or env
    except DvbuildError:
        return env


def _input_hash(settings: Settings, package: Package, mode: str) -> str | None:
    from dvbuild.detect import inputs

    env = settings.environ.get("DVBUILD_INPUT_HASH") or None
    if mode == "run" and env:
        return env
    try:
        return inputs.input_hash(settings, package)
    except DvbuildError:
        return env


def validation_problems(settings: Settings, package: Package, mode: str = "test") -> list[str]:
    """The package folder's problems as `dvbuild validate` reports them (one folder, no git
    needed, so it works inside an image), plus notebooks that do not exist."""
    from dvbuild.validate import packages as validate

    problems: list[str] = []
    try:
        found = validate.check_folder(settings.root, package.path)[1]
        if mode == "run" or settings.image.ref:  # an image carries the depends_on code it was built with
            found = [p for p in found if not p.pointer.startswith("/depends_on")]
        problems += [str(p) for p in found]
    except DvbuildError as e:
        problems.append(str(e))
    listed = isinstance(package.descriptor.get("notebooks"), list)
    for i, rel in enumerate(package.notebooks):
        if not (package.folder / rel).is_file():  # the pointer validate reports it at
            at = f"/notebooks/{i}" if listed else "/notebooks"
            problems.append(f"{package.descriptor_file} {at}: {rel} does not exist")
    if not package.notebooks:
        problems.append(f"{package.path}: no notebooks to run")
    return list(dict.fromkeys(problems))


def check_out(settings: Settings, packages: list[Package], out: Path) -> None:
    """OUT/<name>/ folders are deleted and rewritten: OUT must not be the monorepo,
    a package folder, or a folder above one."""
    for folder in (settings.root, settings.git_root, *(p.folder for p in packages)):
        if folder.resolve().is_relative_to(out):
            raise UsageError(f"--out {out} would hold the copies over {folder}",
                             hint="choose a separate folder, e.g. --out out")


def clear(target: Path) -> None:
    """Remove a previous OUT/<name>/, but only one dvbuild wrote (it has a report.json)."""
    if not target.exists():
        return
    if target.is_dir() and (not any(target.iterdir()) or (target / "report.json").is_file()):
        shutil.rmtree(target)
        return
    raise UsageError(f"{target} exists and was not written by dvbuild; not replacing it",
                     hint="remove it, or choose another --out")


def fresh_copy(package: Package, out: Path) -> Path:
    from dvbuild.package import json_descriptor

    target = out / package.name
    _check_links(package)
    clear(target)
    skip = {out.resolve()}

    def ignore(folder: str, names: list[str]) -> list[str]:
        paths = {n: Path(folder) / n for n in names}
        return [n for n, p in paths.items() if n in IGNORED or p.resolve() in skip
                or (p.is_symlink() and not p.exists())]  # dangling: nothing to copy

    # links are followed: a notebook reads through them as it does in the checkout.
    # (copytree's own ignore_dangling_symlinks tests a relative link from the working
    # directory, and so dropped every relative link.)
    shutil.copytree(package.folder, target, ignore=ignore, copy_function=_copy)
    json_descriptor(target)  # a datapackage.yaml becomes the published datapackage.json
    return target


def _check_links(package: Package) -> None:
    """The copy follows links: one out of the folder, or round in a loop, is refused first
    (`validate` refuses them too), never followed 40 levels deep."""
    from dvbuild.errors import ConfigError, Problem
    from dvbuild.package import link_problems

    prefix = "" if package.path == "." else f"{package.path}/"
    bad = [Problem(f"{prefix}{path}", why) for path, why in link_problems(package.folder)]
    if bad:
        raise ConfigError(bad, hint="replace the link with the files it points to, or remove it")


def _copy(src: str, dst: str) -> None:
    # the run writes executed notebooks over the copies: a read-only checkout must not stop it
    shutil.copy2(src, dst)
    os.chmod(dst, os.stat(dst).st_mode | 0o200)


def python_path(settings: Settings, package: Package, environ: Mapping[str, str]) -> str:
    entries: list[str] = []
    for spec in package.depends_on:
        matches = sorted(settings.root.glob(spec)) if any(c in spec for c in "*?[") else [
            settings.root / spec]
        for m in matches:
            if m.is_dir():
                entries.append(str(m))
            elif m.is_file():
                entries.append(str(m.parent))
    if package.depends_on:
        entries.append(str(settings.root))
    old = environ.get("PYTHONPATH")
    return os.pathsep.join(dict.fromkeys(filter(None, [*entries, old])))


def kernel_env(settings: Settings, package: Package, target: Path, mode: str,
               secrets: Mapping[str, str]) -> dict[str, str]:
    env = {
        "DVBUILD_OUTPUT_DIR": str(target), "DVBUILD_MODE": mode, "DVBUILD_PACKAGE": package.name,
        **secrets,
    }
    store = read_store(settings, mode)
    if store:  # what read_dp reads: test runs may read another store than production
        env["DVBUILD_STORE"] = store
    config = settings.root / "dvbuild.yaml"
    if config.is_file():  # the run happens in a copy: read_sql() finds `sources` through this
        env["DVBUILD_CONFIG"] = str(config)
    path = python_path(settings, package, settings.environ)
    if path:
        env["PYTHONPATH"] = path
    return env


def read_store(settings: Settings, mode: str) -> str | None:
    """The store a run's read_dp reads: test runs read `test_store`, else `store`."""
    config = settings.config
    return (config.test_store or config.store) if mode == "test" else config.store


def make_job(settings: Settings, package: Package, target: Path, mode: str,
             secrets: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": package.name,
        "dir": str(target),
        "notebooks": package.notebooks,
        "parameters": parameters_for(package, mode),
        "timeout": package.test_timeout if mode == "test" else package.timeout,
        "timeout_field": "test_timeout" if mode == "test" else "timeout",  # for its message
        "path": package.path,  # the folder in the monorepo, for hints
        "env": kernel_env(settings, package, target, mode, secrets),
        "secrets": sorted(secrets.values()),
    }
