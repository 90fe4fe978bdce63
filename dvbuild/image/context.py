"""The build context of a package's image: which files go in, and the tar itself.

Not the whole monorepo: the package folder, its `depends_on` files and
dvbuild.yaml (as git sees the working tree: tracked, or untracked and not
git-ignored), minus `.dockerignore` rules and ALWAYS_EXCLUDED, under `repo/`;
plus `.dvbuild/` (dvbuild's wheel, the host's CA bundle for uv, the package's
requirements.lock and apt.txt) and the Dockerfile.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from dvbuild import gitio
from dvbuild.errors import ConfigError, DvbuildError, Problem
from dvbuild.package import Package, link_problem
from dvbuild.settings import Settings

HOST_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
# Never sent to the engine, whatever .dockerignore says: VCS data, editor and
# kernel droppings, and the usual places people keep credentials.
ALWAYS_EXCLUDED = (
    ".git", "**/.git", "**/.ipynb_checkpoints", "**/__pycache__", "**/*.pyc",
    "**/.env", "**/.env.*", "**/.netrc", "**/.pypirc", "**/*.pem", "**/*.key",
    "**/.aws", "**/.docker", "**/.vault-token",
)


@dataclass(frozen=True)
class ContextFile:
    arcname: str  # path inside the build context
    source: Path | None = None  # a file on disk, or
    data: bytes | None = None  # generated content
    mode: int = 0o644


def dockerignore_patterns(text: str) -> list[str]:
    """Patterns of a .dockerignore file, in order ('!' keeps its meaning)."""
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        body = line[1:].strip() if negate else line
        body = str(PurePosixPath("/" + body.lstrip("/"))).lstrip("/") or "."
        patterns.append(("!" if negate else "") + body)
    return patterns


# .dockerignore is matched here, not by pathspec (which dvbuild's own globs use):
# pathspec only knows gitignore, and Docker's patterns are Go's filepath.Match
# plus `**`, with other meanings: every pattern is anchored at the context root
# (`*.md` is top-level only; in gitignore it is any depth), `**` may sit inside a
# segment and cross folders (`a**.txt` matches `a/b/c.txt`; gitignore reads `a*.txt`),
# and patterns are filepath.Clean'ed, so `dir/` also matches a file `dir` (in
# gitignore only a folder). Rewriting patterns into gitignore would not be faithful.
def ignored(path: str, patterns: Iterable[str]) -> bool:
    """Docker's rule: the last matching pattern decides; a match on a parent counts."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        if _matches(path, body):
            result = not negate
    return result


def _matches(path: str, pattern: str) -> bool:
    regex = _pattern_regex(pattern)
    parts = PurePosixPath(path).parts
    return any(regex.fullmatch("/".join(parts[:i])) for i in range(1, len(parts) + 1))


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match plus `**` (any number of folders), as docker reads it."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        c = pattern[i]
        end = pattern.find("]", i + 1)
        if c == "[" and end > i:
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body[:1] in "!^" and body else body) + "]")
            i = end + 1
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c)))
        i += 1
    return re.compile("".join(out))


def package_files(settings: Settings, package: Package) -> list[str]:
    """Monorepo-relative files of the package and of its depends_on globs (the globs
    `detect` and the input hash read): tracked or untracked-but-not-git-ignored, minus
    .dockerignore rules and ALWAYS_EXCLUDED."""
    return repo_files(settings.root, package)


def repo_files(root: Path, package: Package) -> list[str]:
    """package_files, for the monorepo at `root` (validate has no Settings)."""
    from dvbuild.detect.globs import GlobSet, literal_prefix, problems

    bad = {i for i, _ in problems(package.depends_on)}  # `dvbuild validate` reports them
    globs = [g for i, g in enumerate(package.depends_on) if i not in bad]
    prefix = "" if package.path == "." else package.path + "/"
    specs = {prefix.rstrip("/") or ".", *(literal_prefix(g) or "." for g in globs)}
    depends = GlobSet(globs)
    files = {f for f in gitio.ls_files(root, *sorted(specs))
             if f.startswith(prefix) or depends.matches(f)}
    if (root / "dvbuild.yaml").is_file():
        files.add("dvbuild.yaml")
    root_rules = _read_ignore(root / ".dockerignore")
    own_rules = _read_ignore(package.folder / ".dockerignore") if prefix else []
    kept = []
    for f in sorted(files):
        if ignored(f, ALWAYS_EXCLUDED) or ignored(f, root_rules):
            continue
        if prefix and f.startswith(prefix) and ignored(f[len(prefix):], own_rules):
            continue
        if (root / f).is_file():
            kept.append(f)
    return kept


def _read_ignore(path: Path) -> list[str]:
    return dockerignore_patterns(path.read_text(encoding="utf-8")) if path.is_file() else []


def refuse_links(settings: Settings, package: Package, files: Iterable[str]) -> None:
    """A ConfigError naming every context file (and requirements.txt, apt.txt) that a
    symbolic link takes out of the package folder, or, for a depends_on file or
    dvbuild.yaml, out of the monorepo: the tar would carry what it points to. The rule
    `validate` and `test` apply (package.link_problem)."""
    prefix = "" if package.path == "." else package.path + "/"
    own = [prefix + n for n in ("requirements.txt", "apt.txt")]
    problems = outside_links(settings.root, package, [*own, *files])
    if problems:
        raise ConfigError(problems, hint="replace the link with the file it points to")


def outside_links(root: Path, package: Package, files: Iterable[str]) -> list[Problem]:
    """The monorepo-relative `files` that a symbolic link takes out of the package folder
    (files below it) or out of the monorepo (the others: depends_on, dvbuild.yaml)."""
    prefix = "" if package.path == "." else package.path + "/"
    problems = []
    for rel in dict.fromkeys(files):
        why = (link_problem(package.folder, rel[len(prefix):]) if rel.startswith(prefix)
               else link_problem(root, rel, "repository"))
        if why:
            problems.append(Problem(rel, why, expected="a file inside the package folder "
                                    "(a depends_on file: inside the repository)"))
    return problems


def host_ca_bundle(environ: Mapping[str, str]) -> Path | None:
    """The CA bundle pip uses on this machine, so pip in the build trusts the same roots."""
    for candidate in (environ.get("PIP_CERT"), environ.get("SSL_CERT_FILE"),
                      environ.get("REQUESTS_CA_BUNDLE"), *HOST_CA_BUNDLES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def context_files(
    settings: Settings, package: Package, dockerfile: str, wheel: Path, ca: Path | None,
    lock: str = "",
) -> list[ContextFile]:
    """`lock`: the package's requirements.lock (notebooks/envs.py), installed as it is."""
    repo = package_files(settings, package)
    refuse_links(settings, package, repo)
    files = [ContextFile("Dockerfile", data=dockerfile.encode())]
    files.append(ContextFile(f".dvbuild/{wheel.name}", source=wheel))
    if ca is not None:
        files.append(ContextFile(".dvbuild/ca-certificates.crt", source=ca))
    files.append(ContextFile(".dvbuild/requirements.lock", data=lock.encode()))
    apt = package.folder / "apt.txt"
    files.append(ContextFile(".dvbuild/apt.txt", source=apt) if apt.is_file()
                 else ContextFile(".dvbuild/apt.txt", data=b""))
    for rel in repo:
        source = settings.root / rel
        mode = 0o755 if source.stat().st_mode & 0o111 else 0o644
        files.append(ContextFile(f"repo/{rel}", source=source, mode=mode))
    return files


def context_tar(files: Iterable[ContextFile], out: IO[bytes]) -> None:
    """A deterministic tar (fixed owner and times), so equal inputs give equal layers."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            data = f.data if f.data is not None else f.source.read_bytes()  # type: ignore[union-attr]
            info = tarfile.TarInfo(f.arcname)
            info.size, info.mode, info.mtime = len(data), f.mode, 0
            tar.addfile(info, io.BytesIO(data))
    out.seek(0)


# ---- dvbuild itself, as a wheel ----------------------------------------------------


def dvbuild_wheel(cache: Path) -> Path:
    """A wheel of the running dvbuild, built from its source checkout (reproducibly:
    the same source gives the same bytes, so the layer stays cached)."""
    import dvbuild

    source = Path(dvbuild.__file__).resolve().parent.parent
    if not (source / "pyproject.toml").is_file():
        raise DvbuildError(
            f"cannot find dvbuild's source next to {dvbuild.__file__}",
            hint="dvbuild build needs dvbuild installed from a source checkout (pip install -e .)",
        )
    out = cache / "wheel"
    if out.exists():
        for old in out.glob("*.whl"):
            old.unlink()
    import importlib.util
    import sys

    from dvbuild.util import cmd_output

    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    # hatchling's wheels are reproducible by default (fixed timestamps).
    cmd_output(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
               "-w", str(out), str(source))
    wheels = sorted(out.glob("dvbuild-*.whl"))
    if not wheels:
        raise DvbuildError(f"building dvbuild's wheel left nothing in {out}")
    return wheels[0]
