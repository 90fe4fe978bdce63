"""Session services for the image tests: a private Docker engine, a local registry,
and a base image built without pulling anything from a registry.

- `dockerd` (Debian's docker.io) runs as root with its own data root, exec root,
  pid file and socket, no iptables and no bridge (containers use the host network
  to build, `none` to run). Storage: overlay2 where the kernel lets us mount an
  overlay (each build step is then a cheap copy-on-write layer), else vfs, which
  works everywhere but copies the whole image for every step (minutes per build).
  DVBUILD_TEST_STORAGE_DRIVER forces one.
- `docker-registry` (Debian's docker-registry) listens on 127.0.0.1:<free port>.
- The base image is a minimal Debian with python3, debootstrap'ed from the mirror
  in this machine's own apt sources, imported into the engine. Its root file system
  tarball is cached in ~/.cache/dvbuild-tests/, so only the first session pays.

Anything that cannot start fails the session loudly; nothing is skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_REPOSITORY = "dvbuild-test-base"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class DockerServices:
    host: str  # unix:///.../docker.sock
    registry: str  # 127.0.0.1:PORT
    base_image: str
    wheel: Path  # dvbuild's wheel, built once: the source may change during a session

    @property
    def environ(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host, "DVBUILD_WHEEL": str(self.wheel)}

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.host, version="auto", timeout=900)

    def api(self) -> Any:
        import docker

        return docker.APIClient(base_url=self.host, version="auto", timeout=900)


# ---- helpers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait(check: Any, what: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s:\n{_tail(log)}")


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which(cmd[0])
    if binary is None:
        raise RuntimeError(f"{cmd[0]} is not installed (make test installs it: scripts/test-deps.sh)")
    with log.open("wb") as out:
        return subprocess.Popen([binary, *cmd[1:]], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# ---- the engine -------------------------------------------------------------------------


def _ping(host: str) -> bool:
    import docker

    return bool(docker.APIClient(base_url=host, version="auto", timeout=5).ping())


def storage_driver(scratch: Path) -> str:
    forced = os.environ.get("DVBUILD_TEST_STORAGE_DRIVER")
    if forced:
        return forced
    probe = scratch / "overlay-probe"
    dirs = [probe / d for d in ("lower", "upper", "work", "merged")]
    for d in dirs:
        d.mkdir(parents=True)
    lower, upper, work, merged = dirs
    opts = f"lowerdir={lower},upperdir={upper},workdir={work}"
    mounted = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)],
                             capture_output=True).returncode == 0
    if mounted:
        subprocess.run(["umount", str(merged)], capture_output=True)
    shutil.rmtree(probe, ignore_errors=True)
    return "overlay2" if mounted else "vfs"


@contextmanager
def running_dockerd(base: Path) -> Iterator[str]:
    """A private dockerd with everything below `base`; yields its DOCKER_HOST address."""
    if os.geteuid() != 0:
        raise RuntimeError("the Docker tests start dockerd and need root")
    base.mkdir(parents=True, exist_ok=True)
    sock, log = base / "docker.sock", base / "dockerd.log"
    host = f"unix://{sock}"
    proc = _start([
        "dockerd", "--iptables=false", "--ip-masq=false", "--bridge=none",
        f"--storage-driver={storage_driver(base)}", f"--data-root={base / 'data'}",
        f"--exec-root={base / 'exec'}", f"--pidfile={base / 'dockerd.pid'}", f"--host={host}",
    ], log)
    try:
        _wait(lambda: sock.exists() and _ping(host), "dockerd", proc, log, timeout=90)
        yield host
    finally:
        _stop(proc)
        _unmount_below(base)  # dockerd leaves its netns (and overlay2 its data) mounted
        # Layers take gigabytes (vfs: a full copy each); rm is much faster than rmtree.
        subprocess.run(["rm", "-rf", str(base / "data"), str(base / "exec")], check=False)


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_dockerd(tmp_path_factory.mktemp("dockerd")) as host:
        yield host


def _unmount_below(folder: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(f"{folder}/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


# ---- the registry -----------------------------------------------------------------------


@contextmanager
def running_registry(base: Path) -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1, storing below `base`; yields host:port."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = base / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {base / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = base / "registry.log"
    proc = _start(["docker-registry", "serve", str(config)], log)
    url = f"http://127.0.0.1:{port}/v2/"
    try:
        _wait(lambda: urllib.request.urlopen(url, timeout=2).status == 200,
              "docker-registry", proc, log, timeout=30)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def docker_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


# ---- the base image ---------------------------------------------------------------------


def apt_mirror() -> tuple[str, str]:
    """(mirror URI, suite) of this machine's main Debian source, from its apt sources."""
    stanzas: list[dict[str, str]] = []
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        stanzas += _deb822(f.read_text())
    legacy = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]
    for f in legacy:
        if f.is_file():
            stanzas += _one_line_sources(f.read_text())
    for s in stanzas:
        if "deb" not in s.get("types", "").split():
            continue
        suites = [x for x in s.get("suites", "").split() if "-" not in x and "/" not in x]
        uris = s.get("uris", "").split()
        if suites and uris:
            return uris[0], suites[0]
    raise RuntimeError("no Debian source in /etc/apt/sources.list(.d): cannot debootstrap")


def _deb822(text: str) -> list[dict[str, str]]:
    stanzas, current = [], {}
    for line in text.splitlines() + [""]:
        if not line.strip():
            if current:
                stanzas.append(current)
            current = {}
        elif not line.startswith((" ", "\t", "#")) and ":" in line:
            key, _, value = line.partition(":")
            current[key.strip().lower()] = value.strip()
    return stanzas


def _one_line_sources(text: str) -> list[dict[str, str]]:
    stanzas = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 3 and words[0] == "deb":
            words = [w for w in words if not w.startswith("[") and not w.endswith("]")]
            stanzas.append({"types": "deb", "uris": words[1], "suites": words[2]})
    return stanzas


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(root) / "dvbuild-tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


def base_rootfs() -> Path:
    """The cached root file system tarball; debootstrapped on first use."""
    mirror, suite = apt_mirror()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    key = hashlib.sha256(",".join(DEBIAN_PACKAGES).encode()).hexdigest()[:8]
    tarball = cache_dir() / f"debian-{suite}-{arch}-{key}.tar"
    if tarball.is_file():
        return tarball
    work = Path(cache_dir() / f"work-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    try:
        _debootstrap(work / "rootfs", suite, mirror, work / "debootstrap.log")
        _run(["tar", "-C", str(work / "rootfs"), "-cf", str(work / "rootfs.tar"), "."], "tar")
        (work / "rootfs.tar").rename(tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tarball


def _debootstrap(target: Path, suite: str, mirror: str, log: Path) -> None:
    target.mkdir(parents=True)
    _run(["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}",
          suite, str(target), mirror], "debootstrap", log=log)
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (target / junk).glob("*"):
            if item.is_file():
                item.unlink()


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    if shutil.which(cmd[0]) is None:
        raise RuntimeError(f"{cmd[0]} is not installed (make test installs it: scripts/test-deps.sh)")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        out = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RuntimeError(f"{what} failed ({proc.returncode}): {' '.join(cmd)}\n{out}")


def import_base_image(host: str) -> str:
    """The cached debootstrapped Debian + python3, imported into the engine at `host`."""
    import docker

    tarball = base_rootfs()
    tag = tarball.stem
    api = docker.APIClient(base_url=host, version="auto", timeout=900)
    api.import_image(src=str(tarball), repository=BASE_REPOSITORY, tag=tag,
                     changes=[f"ENV PATH={DEFAULT_PATH}", 'CMD ["/bin/bash"]'])
    ref = f"{BASE_REPOSITORY}:{tag}"
    api.inspect_image(ref)  # raises when the import did not work
    return ref


def push_base_image(host: str, ref: str, registry: str) -> str:
    """The base image pushed to the local registry: a second engine pulls the very same
    image (same id and history), as CI runners pull a base from a registry."""
    import docker

    api = docker.APIClient(base_url=host, version="auto", timeout=900)
    repository, tag = ref.rsplit(":", 1)
    remote = f"{registry}/{repository}"
    api.tag(ref, remote, tag)
    for event in api.push(remote, tag=tag, stream=True, decode=True):
        if "error" in event:
            raise RuntimeError(f"pushing the base image failed: {event['error']}")
    return f"{remote}:{tag}"


@pytest.fixture(scope="session")
def docker_base_image(docker_engine: str, docker_registry: str) -> str:
    return push_base_image(docker_engine, import_base_image(docker_engine), docker_registry)


@pytest.fixture(scope="session")
def dvbuild_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dvbuild.image.context import dvbuild_wheel

    return dvbuild_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def docker_services(
    docker_engine: str, docker_registry: str, docker_base_image: str, dvbuild_wheel: Path,
) -> DockerServices:
    return DockerServices(host=docker_engine, registry=docker_registry,
                          base_image=docker_base_image, wheel=dvbuild_wheel)
