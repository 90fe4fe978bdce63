"""`dvbuild test --image`: a package's test run inside its built image, through the
image's own entrypoint (`dvbuild run /app/<path> --test`), the way a Naisjob starts it.

    test_in_images(settings, packages, out) -> one Report per package (OUT/<name>/report.json)

The image is built first, or reused when its content-hash tag exists. OUT is mounted
at its own absolute path, so the report, notebooks and logs land where `dvbuild test`
writes them and a later package's read_dp finds OUT/.upstream at the same address.
The container is started as container.py starts it: the caller's uid:gid, the host's
network, an environment of what the package's secrets need and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dvbuild import console
from dvbuild.errors import DvbuildError
from dvbuild.image.container import read_report, secret_environ, start, with_files
from dvbuild.package import Package
from dvbuild.settings import Settings

if TYPE_CHECKING:
    from dvbuild.image.build import Engine
    from dvbuild.notebooks.report import Report


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
    env, files = with_files({"DVBUILD_IMAGE_DIGEST": engine.digest(built.image), "HOME": "/tmp",
                             **passed_environ(settings.environ, package)})
    code = start(engine, built.image, package, ["--test", "--out", str(out), "--no-publish"],
                 env=env, mounts={str(out): str(out)}, files=files)
    return _read_report(package, out, code)


def passed_environ(environ: Mapping[str, str], package: Package) -> dict[str, str]:
    """What the package's `secrets` need (container.secret_environ), and the read-first
    store of a layered test run. Nothing else of the caller's environment."""
    from dvbuild.api.read import FIRST_ENV

    first = {FIRST_ENV: environ[FIRST_ENV]} if environ.get(FIRST_ENV) else {}
    return {**first, **secret_environ(environ, package)}


def _read_report(package: Package, out: Path, code: int) -> Report:
    report = read_report(package, out)
    if report is None:
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
