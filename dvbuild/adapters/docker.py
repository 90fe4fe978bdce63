"""The Docker Engine, through the docker SDK: the only module that imports `docker`.

It implements `dvbuild.image.build.Engine`. Builds go through the low-level
`APIClient.build(decode=True)` so every log line can be streamed as it comes,
and a failure carries the whole output of the step that failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any

from dvbuild.errors import MissingDependency, ServiceError

LineSink = Callable[[str], None]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class BuildFailed(Exception):
    """The engine reported an error; `step` holds the failing step's log lines."""

    def __init__(self, message: str, step: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.step = step


def _sdk() -> Any:
    try:
        import docker
    except ImportError:
        raise MissingDependency("docker", "docker") from None
    return docker


class DockerEngine:
    """A Docker Engine at DOCKER_HOST (TLS variables honoured), else the default socket."""

    def __init__(self, environ: Mapping[str, str], timeout: int = 900) -> None:
        docker = _sdk()
        kwargs = docker.utils.kwargs_from_env(environment=dict(environ))
        self.address = str(kwargs.get("base_url") or "unix:///var/run/docker.sock")
        try:
            self.api = docker.APIClient(version="auto", timeout=timeout, **kwargs)
        except docker.errors.DockerException as e:
            raise ServiceError(
                f"no Docker engine answers at {self.address}: {_short(e)}",
                hint="start Docker, or point DOCKER_HOST at a running engine",
            ) from None

    def ping(self) -> bool:
        try:
            return bool(self.api.ping())
        except Exception:
            return False

    def build(
        self, context: IO[bytes], *, tag: str, labels: Mapping[str, str],
        buildargs: Mapping[str, str], network_mode: str, log: LineSink,
        cache_from: list[str] | None = None,
    ) -> str:
        """Build from an uncompressed tar context; returns the image id."""
        stream = self.api.build(
            fileobj=context, custom_context=True, tag=tag, labels=dict(labels),
            buildargs=dict(buildargs), network_mode=network_mode, rm=True, forcerm=True,
            pull=False, decode=True, cache_from=cache_from or None,
        )
        return _follow_build(stream, log)

    def pull(self, ref: str, auth: Mapping[str, str] | None) -> bool:
        """Pull `ref`; False when the registry does not have it or cannot be reached."""
        docker = _sdk()
        repository, tag = split_ref(ref)
        try:
            for event in self.api.pull(repository, tag=tag, stream=True, decode=True,
                                       auth_config=dict(auth) if auth else None):
                if "error" in event:
                    return False
        except docker.errors.APIError:
            return False
        return self.exists(ref)

    def exists(self, ref: str) -> bool:
        docker = _sdk()
        try:
            self.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return False
        return True

    def in_registry(self, ref: str, auth: Mapping[str, str] | None) -> bool:
        """Whether the registry holds `ref` (asked through the engine, with its credentials)."""
        docker = _sdk()
        try:
            self.api.inspect_distribution(ref, auth_config=dict(auth) if auth else None)
        except docker.errors.APIError as e:
            if e.status_code in (401, 403, 404) or "not found" in str(e).lower():
                return False
            raise ServiceError(f"cannot ask the registry about {ref}: {_short(e)}") from None
        return True

    def registry_digest(self, ref: str, auth: Mapping[str, str] | None) -> str:
        """The manifest digest the registry serves for `ref` (what `name@digest` pulls)."""
        docker = _sdk()
        try:
            found = self.api.inspect_distribution(ref, auth_config=dict(auth) if auth else None)
        except docker.errors.APIError as e:
            raise ServiceError(f"cannot ask the registry for {ref}'s digest: {_short(e)}") from None
        return str(found["Descriptor"]["digest"])

    def tag(self, image: str, ref: str) -> None:
        repository, tag = split_ref(ref)
        self.api.tag(image, repository, tag)

    def push(self, ref: str, auth: Mapping[str, str] | None, log: LineSink) -> None:
        repository, tag = split_ref(ref)
        stream = self.api.push(repository, tag=tag, auth_config=dict(auth) if auth else None,
                               stream=True, decode=True)
        for event in stream:
            if "error" in event:
                raise ServiceError(f"push of {ref} failed: {event['error']}",
                                   hint="check the registry address and its credentials")
            if event.get("status") and "id" not in event:
                log(str(event["status"]))

    def digest(self, ref: str) -> str:
        """The registry digest when the image was pushed or pulled, else its image id."""
        image = self.api.inspect_image(ref)
        repo_digests = [d for d in image.get("RepoDigests") or [] if "@" in d]
        return str(repo_digests[0].split("@", 1)[1] if repo_digests else image["Id"])

    def run(
        self, image: str, command: Sequence[str], *, mounts: Mapping[str, str],
        env: Mapping[str, str], network: str, log: LineSink, user: str | None = None,
        read_only: Mapping[str, str] | None = None,
    ) -> int:
        """Run `image` (its entrypoint) with `command` to the end: host path -> container
        path mounts (`read_only` ones too), its output streamed to `log` line by line;
        returns the exit code."""
        binds = {host: {"bind": inside, "mode": "rw"} for host, inside in mounts.items()}
        binds |= {host: {"bind": inside, "mode": "ro"} for host, inside in (read_only or {}).items()}
        container = self._start(image, command, env, user, self.api.create_host_config(
            binds=binds, network_mode=network))
        try:
            pending = ""
            for chunk in self.api.logs(container, stream=True, follow=True):
                pending += chunk.decode(errors="replace")
                *lines, pending = pending.split("\n")
                for line in lines:
                    log(_plain(line))
            if pending:
                log(_plain(pending))
            return int(self.api.wait(container)["StatusCode"])
        finally:
            self.api.remove_container(container, force=True)

    def _start(self, image: str, command: Sequence[str], env: Mapping[str, str],
               user: str | None, host_config: Any) -> Any:
        """A started container; what the engine refuses (a bad mount, a missing image)
        becomes one ServiceError line."""
        docker = _sdk()
        container = None
        try:
            container = self.api.create_container(image, command=list(command),
                                                  environment=dict(env), user=user,
                                                  host_config=host_config)
            self.api.start(container)
        except docker.errors.APIError as e:
            if container is not None:
                self.api.remove_container(container, force=True)
            raise ServiceError(f"cannot start {image}: {_short(e)}") from None
        return container

    def labels(self, ref: str) -> dict[str, str]:
        config = self.api.inspect_image(ref).get("Config") or {}
        return dict(config.get("Labels") or {})


def split_ref(ref: str) -> tuple[str, str]:
    """'host:5000/a/b:tag' -> ('host:5000/a/b', 'tag'); the tag defaults to 'latest';
    'a/b@sha256:…' -> ('a/b', 'sha256:…') (the engine pulls a digest given as the tag)."""
    if "@" in ref:
        name, _, digest = ref.partition("@")
        return split_ref(name)[0], digest
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        return ref, "latest"
    return name, tag


def _follow_build(stream: Iterable[dict[str, Any]], log: LineSink) -> str:
    step: list[str] = []
    image_id = ""
    pending = ""
    for event in stream:
        if "stream" in event:
            pending += str(event["stream"])
            *lines, pending = pending.split("\n")
            for line in map(_plain, lines):
                if line.startswith("Step "):
                    step = []
                step.append(line)
                log(line)
        if "aux" in event and isinstance(event["aux"], dict) and "ID" in event["aux"]:
            image_id = str(event["aux"]["ID"])
        if "error" in event:
            if _plain(pending):
                step.append(_plain(pending))
                log(_plain(pending))
            raise BuildFailed(str(event["error"]).strip(), step)
    if _plain(pending):
        log(_plain(pending))
    if not image_id:
        raise BuildFailed("the engine reported no image id", step)
    return image_id


def _plain(line: str) -> str:
    """The engine colours a step's stderr red; logs and messages want the text only."""
    return ANSI.sub("", line)


def _short(error: Exception) -> str:
    return str(error).splitlines()[0][:300] if str(error) else type(error).__name__
