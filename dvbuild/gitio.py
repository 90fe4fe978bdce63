"""Every git call dvbuild makes, each a plain function over one subprocess helper."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

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


# --- what `detect` needs: trees, diffs, blobs, history -------------------------------


class Entry(NamedTuple):
    """One `git ls-tree` line."""

    mode: str
    type: str  # blob | tree | commit (a submodule)
    oid: str
    path: str


class Change(NamedTuple):
    """One `git diff-tree --raw` line (renames are off, so one path per change)."""

    old_mode: str
    new_mode: str
    old_oid: str
    new_oid: str
    status: str  # A, D, M, T (type change); never R/C with --no-renames
    path: str


def _try(*args: str, cwd: Path) -> tuple[int, bytes, bytes]:
    return cmd_output("git", "-c", "core.quotepath=off", *args, cwd=cwd, check=False)


def ls_tree(rev: str, cwd: Path, *pathspecs: str, trees: bool = False) -> list[Entry]:
    """Every file (and with trees=True every folder) at rev; paths from the git root."""
    args = ["ls-tree", "-r", "-z", "--full-tree"] + (["-t"] if trees else [])
    out = git(*args, rev, "--", *pathspecs, cwd=cwd)
    entries = []
    for record in split_z(out):
        meta, _, path = record.partition("\t")
        mode, kind, oid = meta.split(" ")
        entries.append(Entry(mode, kind, oid, path))
    return entries


def parse_raw(out: bytes) -> list[Change]:
    """Parse `--raw -z` output: ':old new oldsha newsha S\\0path\\0' records."""
    fields = split_z(out)
    changes = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        old_mode, new_mode, old_oid, new_oid, status = meta.lstrip(":").split(" ")
        changes.append(Change(old_mode, new_mode, old_oid, new_oid, status[:1], path))
    return changes


def diff_trees(old: str, new: str, cwd: Path, *pathspecs: str) -> list[Change]:
    """Two-dot: what differs between the trees of old and new (renames split in two,
    submodule pointers and mode-only changes included)."""
    out = git("diff-tree", "-r", "-z", "--raw", "--no-renames", "--no-commit-id",
              "--ignore-submodules=none", old, new, "--", *pathspecs, cwd=cwd)
    return parse_raw(out)


def diff_worktree(old: str, cwd: Path, *pathspecs: str) -> list[Change]:
    """What differs between old's tree and the working tree, untracked files included."""
    out = git("diff-index", "-z", "--raw", "--no-renames", "--ignore-submodules=none",
              old, "--", *pathspecs, cwd=cwd)
    changes = parse_raw(out)
    untracked = git("ls-files", "-z", "--others", "--exclude-standard", "--full-name",
                    "--", *pathspecs, cwd=cwd)
    changes += [Change("000000", "100644", ZERO_SHA, ZERO_SHA, "A", p) for p in split_z(untracked)]
    return changes


def cat_blobs(oids: list[str], cwd: Path) -> dict[str, bytes]:
    """The contents of many blobs in one `git cat-file --batch` call."""
    unique = list(dict.fromkeys(oids))
    if not unique:
        return {}
    # --buffer: without it git flushes after every object, which doubles the wall time
    out = cmd_output("git", "cat-file", "--batch", "--buffer", cwd=cwd,
                     stdin=("\n".join(unique) + "\n").encode())[1]
    return _parse_batch(out, unique)


def merge_base(a: str, b: str, cwd: Path) -> str | None:
    code, out, _ = _try("merge-base", a, b, cwd=cwd)
    return out.decode().strip() if code == 0 and out.strip() else None


def is_shallow(cwd: Path) -> bool:
    return git("rev-parse", "--is-shallow-repository", cwd=cwd).decode().strip() == "true"


def parents(rev: str, cwd: Path) -> list[str]:
    return git("rev-list", "--parents", "-n", "1", rev, cwd=cwd).decode().split()[1:]


def remote_exists(cwd: Path, remote: str = "origin") -> bool:
    return _try("remote", "get-url", remote, cwd=cwd)[0] == 0


def fetch(cwd: Path, *refspecs: str, depth: int | None = None, deepen: int | None = None,
          unshallow: bool = False, remote: str = "origin") -> bool:
    """`git fetch` without tags or prompts; False when the remote refused."""
    args = ["fetch", "--no-tags", "--quiet", "--no-write-fetch-head"]
    if depth is not None:
        args.append(f"--depth={depth}")
    if deepen is not None:
        args.append(f"--deepen={deepen}")
    if unshallow:
        args.append("--unshallow")
    return _try(*args, remote, *refspecs, cwd=cwd)[0] == 0


def resolve(rev: str, cwd: Path) -> str | None:
    """The commit sha of rev, or None (no error) when git does not know it."""
    code, out, _ = _try("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=cwd)
    return out.decode().strip() if code == 0 else None


def resolve_all(revs: list[str], cwd: Path) -> list[str] | None:
    """The commit shas of several revs in one git call; None if any is unknown."""
    if any(r.startswith("-") for r in revs):
        return None  # never let a rev read as an option
    code, out, _ = _try("rev-parse", *[f"{r}^{{commit}}" for r in revs], cwd=cwd)
    shas = out.decode().split()
    return shas if code == 0 and len(shas) == len(revs) else None


def default_branch(cwd: Path, remote: str = "origin") -> str | None:
    """The default branch's name: origin/HEAD if set, else the first of main/master
    that exists on the remote-tracking side or locally."""
    code, out, _ = _try("symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD", cwd=cwd)
    if code == 0:
        return out.decode().strip().removeprefix(f"refs/remotes/{remote}/")
    for name in ("main", "master", "trunk"):
        if resolve(f"refs/remotes/{remote}/{name}", cwd) or resolve(f"refs/heads/{name}", cwd):
            return name
    return None


def branch_ref(name: str, cwd: Path, remote: str = "origin") -> str | None:
    """A local ref for a branch name: remote-tracking first (that is what CI has)."""
    for ref in (f"refs/remotes/{remote}/{name}", f"refs/heads/{name}"):
        if resolve(ref, cwd):
            return ref
    return None


def refresh_index(cwd: Path) -> None:
    """Re-stat the index so files touched but unchanged do not show up as modified."""
    _try("update-index", "-q", "--refresh", cwd=cwd)


def read_matching(rev: str, spec: str, cwd: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    """({path: blob id}, {blob id: contents}) for the files at rev matching a pathspec.

    The one place that drives git processes directly instead of through
    `cmd_output`: the listing (`diff-tree` against the empty tree, which filters
    by glob inside git) streams into `cat-file --batch` as it arrives, so the two
    processes overlap instead of waiting for each other. This is detect's biggest
    git cost on a repository with thousands of packages."""
    import os
    import subprocess
    import threading

    list_cmd = ("git", "-c", "core.quotepath=off", "diff-tree", "-r", "-z", "--raw",
                "--no-renames", "--no-commit-id", EMPTY_TREE, rev, "--", spec)
    cat_cmd = ("git", "cat-file", "--batch", "--buffer")
    try:
        lister = subprocess.Popen(list_cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        reader = subprocess.Popen(cat_cmd, cwd=cwd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except FileNotFoundError as e:
        raise CalledProcessError(list_cmd, 127, "", f"git: not found ({e})") from None
    assert lister.stdout and lister.stderr and reader.stdin and reader.stdout
    listing, contents = lister.stdout.fileno(), reader.stdout
    output: list[bytes] = []
    drain = threading.Thread(target=lambda: output.append(contents.read()), daemon=True)
    drain.start()
    paths: dict[str, str] = {}
    order: list[str] = []
    tail = b""
    for chunk in iter(lambda: os.read(listing, 1 << 16), b""):
        buffer, end = tail + chunk, 0
        oids = []
        for m in _RAW_RECORD.finditer(buffer):  # one C-speed scan per chunk, not per record
            end = m.end()
            if m.group(1) != b"160000":
                oids.append(m.group(2))
                paths[m.group(3).decode("utf-8", errors="surrogateescape")] = m.group(2).decode()
        tail = buffer[end:]
        if oids:
            reader.stdin.write(b"\n".join(oids) + b"\n")
            order += [o.decode() for o in oids]
    reader.stdin.close()
    drain.join()
    err = lister.stderr.read()
    if lister.wait() != 0:
        reader.wait()
        raise CalledProcessError(list_cmd, lister.returncode, "", err.decode(errors="replace"))
    reader.wait()
    for stream in (lister.stdout, lister.stderr, reader.stdout):
        stream.close()
    return paths, _parse_batch(output[0] if output else b"", order)


_RAW_RECORD = re.compile(rb":\d+ (\d+) [0-9a-f]+ ([0-9a-f]+) [A-Z]\d*\0([^\0]*)\0")


def _parse_batch(out: bytes, order: list[str]) -> dict[str, bytes]:
    """`cat-file --batch` output: '<oid> <type> <size>\\n<contents>\\n' per object asked."""
    blobs: dict[str, bytes] = {}
    pos = 0
    for oid in order:
        eol = out.index(b"\n", pos)
        header = out[pos:eol].split(b" ")
        pos = eol + 1
        if header[-1] == b"missing":
            continue
        size = int(header[2])
        blobs[oid] = out[pos:pos + size]
        pos += size + 1
    return blobs
