"""One environment per package: its requirements.txt, locked with dvbuild's own, in a venv.

    lock_for(package)  requirements.txt + what dvbuild needs in a kernel (its base
                       requirements, ipykernel, the extras the image installs) ->
                       `uv pip compile` -> pinned `name==version` lines, cached under
                       <cache>/locks/ by the sha256 of those inputs
    ensure_env(lock)   <cache>/envs/<lock sha256[:16]>: `uv venv` + `uv pip install -r
                       lock` + dvbuild `--no-deps`, built beside its place and renamed
                       into it under a file lock; the marker file, written last, says
                       it is complete, so a half-built env is never used
    Env.kernel         <env>/share/jupyter/kernels/dvbuild: the lifeline wrapper around
                       ipykernel on the env's python, which the worker starts

<cache> is $DVBUILD_ENV_CACHE, else the user cache dir (~/.cache/dvbuild). The index
is the machine's: uv's own settings (UV_DEFAULT_INDEX, UV_INDEX_URL, uv.toml …) when
there are any, else pip's (`pip config list`, PIP_INDEX_URL …) handed to uv.
Without uv, pip resolves (`pip install --dry-run --report`) and installs: pinned
the same way, but for this interpreter only (`python` is not looked at).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvbuild.errors import DvbuildError
from dvbuild.package import Package

REQUIREMENTS = "requirements.txt"
LOCK_FILE = "requirements.lock"  # written into OUT/<name>/ (publish takes listed files only)
KERNEL = "dvbuild"  # the kernelspec each env registers
MARKER = ".dvbuild-env.json"  # written last: the env is complete
FORMAT = 2  # in the marker: an env made by an older dvbuild's recipe is made again
SHARED_ENV = "DVBUILD_SHARED_ENV"  # =1: the kernels run on dvbuild's own interpreter
CACHE_ENV = "DVBUILD_ENV_CACHE"
MAX_AGE_ENV = "DVBUILD_ENV_MAX_AGE"  # days an env or lock may go unused (0: never pruned)
MAX_AGE_DAYS = 30
PRUNE_EVERY = 86400.0  # seconds between two prunes of one cache dir
UV_INDEX_VARS = ("UV_DEFAULT_INDEX", "UV_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL",
                 "UV_FIND_LINKS", "UV_NO_INDEX")
# dvbuild's requirements that only the machine making environments and images runs: left
# out of every lock, so neither a package's environment nor its image carries them (uv's
# wheel alone is 40 MB of every image; the image gets uv's binary for its build step).
# dvbuild is installed there with --no-deps, so nothing asks for them.
HOST_ONLY = ("uv",)
Log = Callable[[str], None]
_FINDING_UV = threading.Lock()


class EnvError(DvbuildError):
    """The package's requirements could not be resolved or installed; `message` is the
    resolver's own, on one line, `detail` its whole output."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


@dataclass(frozen=True)
class Lock:
    text: str  # pinned `name==version` lines (dvbuild itself is not among them)
    sha256: str  # of `text`
    path: Path  # the cached lock file


@dataclass(frozen=True)
class Env:
    path: Path
    reused: bool = True

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def jupyter_path(self) -> Path:
        return self.path / "share" / "jupyter"

    def as_job(self) -> dict[str, str]:
        """What a worker needs to start this env's kernel (see worker.run_job)."""
        return {"name": KERNEL, "jupyter_path": str(self.jupyter_path), "prefix": str(self.path)}


def shared(environ: Mapping[str, str]) -> bool:
    """DVBUILD_SHARED_ENV=1: no environment of its own for any package (the escape hatch)."""
    return environ.get(SHARED_ENV, "").strip().lower() in ("1", "true", "yes")


def cache_root(environ: Mapping[str, str]) -> Path:
    if environ.get(CACHE_ENV):
        return Path(environ[CACHE_ENV])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("dvbuild"))


def running_python() -> str:
    """The version the envs run (they are made from this interpreter)."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


# ---- the lock -------------------------------------------------------------------------


def dvbuild_requirements(extras: Sequence[str]) -> list[str]:
    """What dvbuild needs where its notebooks run: its base requirements, ipykernel, and
    those of `extras` (what the image installs), from the installed dvbuild's metadata;
    not HOST_ONLY (a package's own requirements.txt may still list them)."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    reqs = [Requirement(line) for line in requires("dvbuild") or []]
    wanted, size = {"", *extras}, -1
    while size != len(wanted):  # an extra may name others (`all` = dvbuild[data,s3,…])
        size = len(wanted)
        for req in reqs:
            if req.name == "dvbuild" and _wanted(req, wanted):
                wanted |= req.extras
    out = {_unmarked(req) for req in reqs
           if req.name not in ("dvbuild", *HOST_ONLY) and _wanted(req, wanted)}
    if not any(Requirement(r).name == "ipykernel" for r in out):
        out.add("ipykernel")
    return sorted(out)


def _wanted(req: Any, extras: set[str]) -> bool:
    return req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras)


def _unmarked(req: Any) -> str:
    req.marker = None
    return str(req)


def lock_for(package: Package, *, python: str = "3.11", environ: Mapping[str, str],
             log: Log | None = None) -> Lock:
    """The package's requirements.txt (absent: none) resolved together with dvbuild's;
    raises EnvError with the resolver's message when that fails."""
    from dvbuild.image.dockerfile import extras as image_extras

    own = package.folder / REQUIREMENTS
    content = own.read_bytes() if own.is_file() else b""
    extras = sorted(image_extras(package))
    base = dvbuild_requirements(extras)
    uv = uv_bin()
    key = _sha256(b"\0".join([content, "\n".join(base).encode(), python.encode(),
                              ",".join(extras).encode(), b"uv" if uv else b"pip"]))
    path = cache_root(environ) / "locks" / f"{key}.txt"
    if not path.is_file():
        if log:
            log(f"environment: resolving {REQUIREMENTS if content else 'dvbuild requirements'}"
                f" with {'uv' if uv else 'pip'}")
        sources = [REQUIREMENTS] if own.is_file() else []
        try:
            text = _compile(sources, base, python, uv, package.folder, environ)
        except EnvError as e:
            what = f"{package.path}/{REQUIREMENTS}" if sources else "dvbuild's requirements"
            raise EnvError(f"{what.removeprefix('./')} could not be resolved: {e.message}",
                           e.detail) from None
        _write_atomic(path, text)
    text = path.read_text(encoding="utf-8")
    _used(path)
    return Lock(text, _sha256(text.encode()), path)


def write_lock(lock: Lock, folder: Path) -> Path:
    """OUT/<name>/requirements.lock: what the test run installed (not published)."""
    target = folder / LOCK_FILE
    target.write_text(lock.text, encoding="utf-8")
    return target


def _compile(sources: list[str], base: list[str], python: str, uv: str | None, cwd: Path,
             environ: Mapping[str, str]) -> str:
    with tempfile.TemporaryDirectory(prefix="dvbuild-lock-") as tmp:
        mine = Path(tmp) / "dvbuild-requirements.txt"
        mine.write_text("\n".join(base) + "\n", encoding="utf-8")
        if uv is None:
            return _pip_compile([*sources, str(mine)], cwd, Path(tmp) / "report.json", environ)
        out = _run([uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate",
                    "--python-version", python, "--no-emit-package", "dvbuild",
                    *sources, str(mine)], cwd, uv_environ(environ))
    return "".join(line + "\n" for line in out.splitlines() if line.strip())


def _pip_compile(sources: list[str], cwd: Path, report: Path, environ: Mapping[str, str]) -> str:
    """pip's resolution for this interpreter, as pins: the fallback without uv."""
    reqs = [arg for src in sources for arg in ("-r", src)]
    _run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
          "--report", str(report), *reqs], cwd, _environ(environ))
    installs = json.loads(report.read_text(encoding="utf-8")).get("install", [])
    pins = sorted(f"{i['metadata']['name'].lower()}=={i['metadata']['version']}" for i in installs
                  if i["metadata"]["name"].lower() != "dvbuild")
    return "".join(p + "\n" for p in pins)


# ---- the environment --------------------------------------------------------------------


def ensure_env(lock: Lock, *, environ: Mapping[str, str], log: Log | None = None) -> Env:
    """The env for `lock`, made once per machine (and per cache dir) and reused after."""
    final = cache_root(environ) / "envs" / lock.sha256[:16]
    me = dvbuild_source()
    if _complete(final, me):  # the common case: no lock file, no subprocess
        _used(final / MARKER)
        return Env(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(final.parent / f"{final.name}.lock"):
        if _complete(final, None):  # made, or being reused, by another worker or run
            if not _complete(final, me):  # made by another dvbuild: install this one
                _install_dvbuild(final, me, uv_bin(), environ)
                _write_marker(final, lock, me)
            return Env(final)
        started = time.monotonic()
        if log:
            log(f"environment {final.name}: installing {len(lock.text.splitlines())} packages")
        try:
            _build(final, lock, me, environ)
        except EnvError as e:
            raise EnvError(f"environment {final.name} could not be installed: {e.message}",
                           e.detail) from None
        if log:
            log(f"environment {final.name}: ready in {time.monotonic() - started:.1f}s")
        return Env(final, reused=False)


def _complete(path: Path, me: str | None) -> bool:
    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # the interpreter the venv links to may be gone (a Python upgrade, another runner)
    return ((path / "bin" / "python").exists() and marker.get("format") == FORMAT
            and (me is None or marker.get("dvbuild") == me))


def _build(final: Path, lock: Lock, me: str, environ: Mapping[str, str]) -> None:
    uv = uv_bin()
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    # uv's venvs are relocatable: built beside and renamed; pip's keep their path in
    # their scripts, so they are built in place (still under the lock, marker last)
    target = tmp / "env" if uv else final
    try:
        shutil.rmtree(final, ignore_errors=True)  # an incomplete one, left by a crash
        if uv:
            _run([uv, "venv", "--quiet", "--relocatable", "--python", sys.executable,
                  str(target)], final.parent, uv_environ(environ))
            # compiled now, once: a kernel must not compile IPython and pandas at every
            # start where PYTHONDONTWRITEBYTECODE is set (pip compiles by default)
            _run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python",
                  str(target / "bin" / "python"), "-r", str(lock.path)], final.parent,
                 uv_environ(environ))
        else:
            _run([sys.executable, "-m", "venv", str(target)], final.parent, _environ(environ))
            _run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r",
                  str(lock.path)], final.parent, _environ(environ))
        _install_dvbuild(target, me, uv, environ)
        _write_kernelspec(target, final)
        _write_marker(target, lock, me)
        if target != final:
            os.replace(target, final)
    except BaseException:
        if target == final:
            shutil.rmtree(final, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def dvbuild_source() -> str:
    """How this dvbuild gets into an env: `editable <source tree>` (found as
    image.context.dvbuild_wheel finds it), else `dist <version> <RECORD sha256>`."""
    import dvbuild

    source = Path(dvbuild.__file__).resolve().parent.parent
    if (source / "pyproject.toml").is_file():
        return f"editable {source}"
    from importlib.metadata import distribution

    dist = distribution("dvbuild")
    return f"dist {dist.version} {_sha256((dist.read_text('RECORD') or '').encode())[:16]}"


def _install_dvbuild(env: Path, me: str, uv: str | None, environ: Mapping[str, str]) -> None:
    """dvbuild itself, without its dependencies (the lock has them)."""
    kind, _, source = me.partition(" ")
    if kind != "editable":
        _copy_dist(env)
        return
    python = str(env / "bin" / "python")
    if uv:
        _run([uv, "pip", "install", "--quiet", "--python", python, "--no-deps", "--reinstall",
              "-e", source], env, uv_environ(environ))
    else:
        _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
              "-e", source], env, _environ(environ))


def _copy_dist(env: Path) -> None:
    """An installed (not editable) dvbuild: its package folder and metadata, copied."""
    from importlib.metadata import distribution

    import dvbuild

    dist = distribution("dvbuild")
    info = next(f.parts[0] for f in dist.files or [] if f.parts[0].endswith(".dist-info"))
    [site] = env.glob("lib/python*/site-packages")
    for source in (Path(dvbuild.__file__).resolve().parent, Path(str(dist.locate_file(info)))):
        shutil.rmtree(site / source.name, ignore_errors=True)
        shutil.copytree(source, site / source.name, ignore=shutil.ignore_patterns("__pycache__"))


def _write_kernelspec(env: Path, final: Path) -> None:
    from dvbuild.notebooks import lifeline

    spec = env / "share" / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        # ipykernel on the env's python, ending with the worker that started it
        "argv": [str(final / "bin" / "python"), "-c", lifeline.KERNEL_BOOT,
                 "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python",
        "metadata": {"debugger": False},
    }), encoding="utf-8")


def _write_marker(env: Path, lock: Lock, me: str) -> None:
    _write_atomic(env / MARKER, json.dumps({"format": FORMAT, "lock": lock.sha256, "dvbuild": me})
                  + "\n")


# ---- uv, pip, and the machine's index --------------------------------------------------


def uv_bin() -> str | None:
    """uv's binary (the `uv` package from PyPI), or None: pip does the work then."""
    # find_uv_bin reads sysconfig, whose first use races in threads (pool setups)
    with _FINDING_UV:
        try:
            import uv

            return str(uv.find_uv_bin())
        except (ImportError, FileNotFoundError):
            return None


def uv_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for uv: the machine's pip index settings, where uv has none."""
    env = _environ(environ)
    if any(env.get(var) for var in UV_INDEX_VARS):
        return env
    pip = pip_settings(env)
    mapped = {"UV_DEFAULT_INDEX": pip.get("index-url", ""),
              "UV_INDEX": " ".join(pip.get("extra-index-url", "").split()),
              "UV_FIND_LINKS": ",".join(pip.get("find-links", "").split())}
    env.update({k: v for k, v in mapped.items() if v})
    if mapped["UV_INDEX"] or mapped["UV_FIND_LINKS"]:
        # pip takes the best version from all its indexes; uv, by default, the first index's
        env.setdefault("UV_INDEX_STRATEGY", "unsafe-best-match")
    if pip.get("cert") and not env.get("SSL_CERT_FILE"):
        env["SSL_CERT_FILE"] = pip["cert"]
    return env


def pip_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """pip's configuration as `pip config list` shows it (files, then PIP_* variables)."""
    import ast

    try:
        from dvbuild.util import cmd_output

        out = cmd_output(sys.executable, "-m", "pip", "config", "list", env=environ)[1]
    except DvbuildError:
        return {}
    found: dict[str, str] = {}
    for line in out.decode(errors="replace").splitlines():
        match = re.match(r"^(?P<scope>[^=]*)\.(?P<key>[\w-]+)=(?P<value>.*)$", line)
        if match and match["scope"] in ("global", "install", ":env:"):
            with contextlib.suppress(ValueError, SyntaxError):
                found[match["key"]] = str(ast.literal_eval(match["value"]))
    return found


def _environ(environ: Mapping[str, str]) -> dict[str, str]:
    # tests pass {}: a subprocess still needs PATH and HOME (uv's cache, pip's config)
    return dict(environ) if environ else dict(os.environ)


def _run(cmd: list[str], cwd: Path, env: Mapping[str, str]) -> str:
    from dvbuild.util import cmd_output

    code, out, err = cmd_output(*cmd, cwd=cwd, env=env, check=False)
    if code:
        text = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        raise EnvError(one_line(text) or f"{Path(cmd[0]).name} exited with code {code}", text)
    return out.decode(errors="replace")


def one_line(text: str) -> str:
    """A resolver's message on one line: its error and causes, the pointer lines dropped."""
    lines = [line.strip() for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith(("error:", "ERROR:", "×"))), 0)
    parts = [re.sub(r"^(error:|ERROR:|cause:|Caused by:|×|╰─▶|│)\s*", "", line)
             for line in lines[start:] if line and not set(line) <= set("^~ |│")]
    return ": ".join(p.rstrip(":") for p in parts if p)


# ---- pruning -------------------------------------------------------------------------


def prune(environ: Mapping[str, str], *, now: float | None = None,
          log: Log | None = None) -> list[str]:
    """Envs and locks unused for DVBUILD_ENV_MAX_AGE days (default 30; 0: keep all)
    removed, and half-built envs a crash left, at most once a day per cache dir; the
    names removed. Every use touches an env's marker and its lock, so "unused" is
    measured from the last test run that needed it, not from when it was made."""
    days = _max_age(environ)
    root = cache_root(environ)
    folder, stamp = root / "envs", root / "envs" / ".pruned"
    now = time.time() if now is None else now
    if days <= 0 or not folder.is_dir() or now - _mtime(stamp, 0.0) < PRUNE_EVERY:
        return []
    stamp.touch()
    oldest, removed, freed = now - days * 86400, [], 0
    for path in sorted(folder.iterdir()):
        if not path.is_dir():
            continue
        if path.name.startswith("."):  # a build a crash left (`_build`'s temp folder)
            if _mtime(path, now) < now - PRUNE_EVERY:
                shutil.rmtree(path, ignore_errors=True)
            continue
        with _exclusive(folder / f"{path.name}.lock"):  # not while it is being (re)built
            if _mtime(path / MARKER, _mtime(path, now)) >= oldest:
                continue
            freed += _size(path)
            trash = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=folder))
            os.replace(path, trash / "env")  # gone from its place at once, then deleted
        # its (empty) lock file stays: unlinked, a process already waiting on it would
        # hold a lock on a file a third one no longer sees
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(path.name)
    for lock in sorted((root / "locks").glob("*.txt")):
        if _mtime(lock, now) < oldest:
            lock.unlink(missing_ok=True)
    if removed and log:
        log(f"environments: removed {len(removed)} unused for {days} days "
            f"({freed / 1e6:.0f} MB)")
    return removed


def _max_age(environ: Mapping[str, str]) -> int:
    text = environ.get(MAX_AGE_ENV, "").strip()
    try:
        return int(text) if text else MAX_AGE_DAYS
    except ValueError:
        from dvbuild.errors import UsageError

        raise UsageError(f"{MAX_AGE_ENV}={text!r}: not a whole number of days",
                         hint="e.g. 30; 0 keeps every environment") from None


def _used(path: Path) -> None:
    """Marks `path` used now (what prune goes by); a read-only cache is left as it is."""
    with contextlib.suppress(OSError):
        os.utime(path)


def _mtime(path: Path, default: float) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return default


def _size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


# ---- files ----------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """An flock on `path`: one process (or thread) at a time builds a given env."""
    import fcntl

    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
