"""`dvbuild test --image`: a package's test run inside its built image, through the
image's own entrypoint (`dvbuild run /app/<path> --test`), the way a Naisjob starts it.

    test_in_images(settings, packages, out) -> one Report per package (OUT/<name>/report.json)

The image is built first, or reused when its content-hash tag exists. OUT is mounted
at its own absolute path, so the report, notebooks and logs land where `dvbuild test`
writes them and a later package's read_dp finds OUT/.upstream at the same address.
The container runs as the caller's uid:gid (the files in OUT are the caller's) on the
host's network, as a test run on the host would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dvbuild import console
from dvbuild.errors import DvbuildError
from dvbuild.package import Package
from dvbuild.settings import Settings

if TYPE_CHECKING:
    from dvbuild.image.build import Engine
    from dvbuild.notebooks.report import Report

# what a test run's secrets may need from the caller's environment, besides env: references
VAULT_ENV = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_ROLE", "VAULT_CACERT")


def test_in_images(settings: Settings, packages: list[Package], out: Path, *,
                   upstream_store: str, engine: Engine | None = None) -> list[Report]:
    """Test runs in `reads` order, each in its package's image (built or reused)."""
    import tempfile

    from dvbuild import notebooks
    from dvbuild.image.build import Wheels, engine_for

    engine = engine or engine_for(settings)
    with tempfile.TemporaryDirectory(prefix="dvbuild-build-") as tmp:
        wheels = Wheels(Path(tmp), settings.environ)

        def run_layer(layer_settings: Settings, layer: list[Package], where: Path) -> list[Report]:
            return [test_in_image(layer_settings, engine, p, where, wheels) for p in layer]

        return notebooks.test_in_layers(settings, packages, out, upstream_store=upstream_store,
                                        runner=run_layer)


def test_in_image(settings: Settings, engine: Engine, package: Package, out: Path,
                  wheels: Callable[[], Path]) -> Report:
    from dvbuild.image.build import build_one

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        built = build_one(settings, engine, package, wheels=wheels)
    except DvbuildError as e:
        return _failed(package, out, f"image build failed: {e}")
    assert built.image is not None
    console.log(f"{package.name}: {built.message}")
    env = {"DVBUILD_IMAGE_DIGEST": engine.digest(built.image), "HOME": "/tmp",
           **passed_environ(settings.environ, package)}
    code = engine.run(built.image, ["--test", "--out", str(out), "--no-publish"],
                      mounts={str(out): str(out)}, env=env, network="host",
                      log=lambda line: console.log(f"[{package.name}] {line}"),
                      user=f"{os.getuid()}:{os.getgid()}")
    return _read_report(package, out, code)


def passed_environ(environ: Mapping[str, str], package: Package) -> dict[str, str]:
    """The caller's variables the package's `secrets` refer to (env:NAME, and Vault's
    login for vault: references, which the run inside the image resolves itself);
    the read-first store of a layered test run. Nothing else of the caller's environment."""
    from dvbuild.api.read import FIRST_ENV
    from dvbuild.secrets import parse

    names = {FIRST_ENV}
    for reference in package.secrets.values():
        try:
            ref = parse(str(reference))
        except DvbuildError:
            continue  # the run inside reports it, as `dvbuild test` does
        names |= {ref.path} if ref.scheme == "env" else set(VAULT_ENV)
    return {k: environ[k] for k in sorted(names) if environ.get(k)}


def _read_report(package: Package, out: Path, code: int) -> Report:
    from dvbuild.notebooks.report import REPORT

    path = out / package.name / REPORT
    try:
        report: Report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _failed(package, out, f"the test run in the image exited with {code} "
                       "and wrote no report.json (its output is above)")
    if code and report.get("status") == "passed":
        report.update({"status": "failed", "error": f"the test run in the image exited with {code}"})
    return report


def _failed(package: Package, out: Path, message: str) -> Report:
    from dvbuild.notebooks.report import new_report, write

    report = new_report(package.name, package.path, mode="test")
    report.update({"status": "failed", "error": console.redact(message)})
    write(report, out / package.name)
    return report
