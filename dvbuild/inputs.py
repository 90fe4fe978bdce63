"""The input content hash of a package: what its build depends on, from git's own ids.

The same hash is used by `detect --since-published`, as an image tag, and in
the published manifest, so "has this package's input changed?" has one answer.
"""

from __future__ import annotations

import hashlib

from dvbuild import gitio
from dvbuild.package import Package
from dvbuild.settings import Settings


def input_hash(settings: Settings, package: Package, rev: str = "HEAD") -> str:
    """sha256 (hex) over the git object ids of the package folder, its depends_on
    paths and the global files at `rev`."""
    specs = [settings.prefix + (package.path if package.path != "." else "")]
    specs += [settings.prefix + d for d in package.depends_on]
    specs += [settings.prefix + g for g in settings.config.global_]
    listing = gitio.git("ls-tree", "-r", "-z", "--full-tree", rev, "--",
                        *[f":(glob){s}" if "*" in s else s for s in specs], cwd=settings.git_root)
    return hashlib.sha256(listing).hexdigest()
