"""What one package's publish did: the result object, and its summary line for CI logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvbuild import console
from dvbuild.errors import DvbuildError

if TYPE_CHECKING:
    from dvbuild.catalogs.runs import RunDocument


@dataclass
class PublishResult:
    name: str
    dir: str
    version: str | None = None
    status: str = "failed"  # published | unchanged | failed
    files: int = 0
    uploaded: int = 0
    skipped: int = 0
    bytes: int = 0
    bytes_uploaded: int = 0
    seconds: float = 0.0
    latest: bool = False  # latest.json points at this version now
    latest_moved: bool = False  # ... because this publish moved it
    manifest_url: str | None = None
    error: str | None = None
    catalog: bool = False  # catalog documents written
    run: RunDocument | None = None  # the catalog's run document, once written
    problems: list[dict[str, Any]] = field(default_factory=list)  # refused input: Problem.as_dict()

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "run"}

    def fail(self, error: Exception) -> None:
        # OSError: a local file vanished or a socket broke below the adapters.
        message = error.message if isinstance(error, DvbuildError) else f"{type(error).__name__}: {error}"
        self.status, self.error = "failed", message


def log_summary(result: PublishResult) -> None:
    if result.status == "failed":
        console.log(f"{result.name}: publish failed: {result.error}")
        return
    mb = result.bytes_uploaded / 1e6
    rate = mb / result.seconds if result.seconds else 0.0
    where = "latest" if result.latest else "not latest (a newer version is)"
    console.log(f"{result.name}@{result.version}: {result.status}, {result.files} files "
                f"({result.uploaded} uploaded, {result.skipped} skipped), {mb:.1f} MB in "
                f"{result.seconds:.2f} s ({rate:.1f} MB/s), {where}")
