"""Where the last `dvbuild local` run wrote, so `status` and `lineage` read its catalog.

    <monorepo>/.dvbuild/last-local.json   {"out", "store", "catalog", "finished"}
    <monorepo>/.dvbuild/.gitignore        `*`: git, and so detect, never sees the folder

Beside the monorepo (as .pytest_cache is), not in a user cache: it goes when the
checkout goes, and a look at the folder shows what `status` will read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from dvbuild import console

STATE_DIR = ".dvbuild"
STATE_FILE = "last-local.json"
STATE = f"{STATE_DIR}/{STATE_FILE}"


def remember(root: Path, out: Path, store: str, catalog: str) -> None:
    """Record a local run's output; a monorepo that cannot be written to only loses this."""
    folder = root / STATE_DIR
    record = {"out": str(out), "store": store, "catalog": catalog,
              "finished": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        folder.mkdir(exist_ok=True)
        (folder / ".gitignore").write_text("*\n", encoding="utf-8")
        (folder / STATE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as e:
        console.log(f"warning: {folder / STATE_FILE} not written ({e}): `dvbuild status` "
                    "will not find this run's catalog without --catalog")


def last_catalog(root: Path) -> str | None:
    """The catalog URL of the last local run, while its folder is still there."""
    try:
        record = json.loads((root / STATE).read_text(encoding="utf-8"))
        url = record.get("catalog")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(url, str) or not url.startswith("file:"):
        return None
    from dvbuild.stores.file import FileStore

    return url if FileStore.from_url(url).root.is_dir() else None
