"""Every git call dvbuild makes, each a plain function over one subprocess helper."""

from __future__ import annotations

from pathlib import Path

from dvbuild.errors import CalledProcessError, UsageError
from dvbuild.util import cmd_output, split_z

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
ZERO_SHA = "0" * 40


def git(*args: str, cwd: Path) -> bytes:
    return cmd_output("git", "-c", "core.quotepath=off", *args, cwd=cwd)[1]


def get_root(path: Path) -> Path:
    try:
        out = git("rev-parse", "--show-toplevel", cwd=path)
    except CalledProcessError as e:
        raise UsageError(
            f"{path}: not inside a git repository",
            hint="run dvbuild in your monorepo's checkout, or pass --repo DIR",
        ) from e
    return Path(out.decode().strip())


def rev_parse(rev: str, cwd: Path) -> str:
    """The commit sha of rev; UsageError when git does not know it."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=cwd).decode().strip()
    except CalledProcessError:
        raise UsageError(f"unknown git revision {rev!r}",
                         hint="is it fetched? (actions/checkout fetches one commit by default)") from None


def has_commit(rev: str, cwd: Path) -> bool:
    code = cmd_output("git", "cat-file", "-e", f"{rev}^{{commit}}", cwd=cwd, check=False)[0]
    return code == 0


def ls_files(cwd: Path, *pathspecs: str, others: bool = True) -> list[str]:
    """Tracked files (and untracked, not ignored ones) below cwd, relative to cwd."""
    args = ["ls-files", "-z", "--cached"]
    if others:
        args += ["--others", "--exclude-standard"]
    return sorted(set(split_z(git(*args, "--", *pathspecs, cwd=cwd))))


def get_changed_files(old: str, new: str, cwd: Path) -> list[str]:
    """Paths that differ between two trees (two-dot), relative to the git root."""
    out = git("diff-tree", "-r", "-z", "--no-renames", "--name-only", "--no-commit-id",
              "--ignore-submodules=none", old, new, cwd=cwd)
    return split_z(out)
