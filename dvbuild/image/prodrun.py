"""`dvbuild run PATH --image REF`: the production run in the image itself, started here
through its entrypoint (`dvbuild run /app/<path> --out OUT`) as its Naisjob starts it, so
the version published is made by the very image the Naisjob will run.

    run_in_image(settings, package, ref, out, store=..., catalog=..., publish=...) -> exit code

The run inside does the notebooks and the publish; its exit code (0 passed, 1 failed,
2 bad input) is the command's. The container gets, of the caller's environment, only:
- the store and catalog as DVBUILD_STORE / DVBUILD_CATALOG, the way the Naisjob gets
  them (and read_dp reads the store there); never on the command line, where a URL's
  password would show. A file:// store or catalog is mounted at its own path;
- the plain `env` values the Naisjob sets (manifests.runtime.job_env);
- the store's and catalog's credentials and settings (CREDENTIALS, DVBUILD_S3_*) and
  the files they name; with AWS_PROFILE, the files the profile is read from;
- what the package's `secrets` name (container.secret_environ);
- GITHUB_RUN (for report.json's and _manifest.json's run_url), but not GITHUB_ACTIONS:
  under it the run inside writes workflow commands (`::add-mask::<value>`), which,
  relayed here as its log lines, would be plain text;
- DVBUILD_IMAGE_REF=REF, DVBUILD_IMAGE_DIGEST (REF's own when pinned, else the
  engine's) and HOME=/tmp. What dvbuild sets wins over a `job.env` of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dvbuild import console
from dvbuild.errors import ServiceError, UsageError
from dvbuild.image.container import read_report, secret_environ, start, with_files
from dvbuild.package import Package
from dvbuild.settings import Settings

if TYPE_CHECKING:
    from dvbuild.image.build import Engine

CREDENTIALS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
    "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE",
    "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CA_BUNDLE",
    "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "DVBUILD_CATALOG_API_KEY", "DVBUILD_CATALOG_USERNAME",
    "DVBUILD_CATALOG_PASSWORD", "DVBUILD_CATALOG_ENGINE", "DVBUILD_NOTIFY_WEBHOOK",
)
S3_SETTINGS = "DVBUILD_S3_"  # DVBUILD_S3_CHECKSUM, _JOBS, _PUBLIC_URL, _DIRECT
MASKED = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DVBUILD_CATALOG_API_KEY",
          "DVBUILD_CATALOG_PASSWORD", "DVBUILD_NOTIFY_WEBHOOK")  # the webhook URL holds a token
GITHUB_RUN = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_SHA")


def run_in_image(settings: Settings, package: Package, ref: str, out: Path, *,
                 store: str | None, catalog: str | None, publish: bool,
                 engine: Engine | None = None) -> int:
    """Start `ref` for the package's production run; the run's exit code."""
    from dvbuild.image.build import engine_for, registry_auth
    from dvbuild.image.naming import REFERENCE_RULE, reference_problem
    from dvbuild.manifests.runtime import image_env, job_env
    from dvbuild.notebooks.report import REPORT

    why = reference_problem(ref)
    if why:
        raise UsageError(f"--image {why}", hint=REFERENCE_RULE)
    env, files = with_files({**job_env(settings, package), **passed(settings.environ),
                             **secret_environ(settings.environ, package)})
    places, mounts = _places(store, catalog)
    engine = engine or engine_for(settings)  # bad input is refused before this
    _pull_if_missing(engine, ref, registry_auth(settings.environ))
    image = image_env(ref)  # the Naisjob's rule: a pinned ref carries its digest
    if "DVBUILD_IMAGE_DIGEST" not in image:
        image["DVBUILD_IMAGE_DIGEST"] = engine.digest(ref)
    env |= {**places, **image, "HOME": "/tmp"}
    out = out.resolve()
    (out / package.name / REPORT).unlink(missing_ok=True)  # an earlier run's is no answer
    out.mkdir(parents=True, exist_ok=True)
    console.log(f"{package.name}: production run in {ref}")
    code = start(engine, ref, package, ["--out", str(out), *([] if publish else ["--no-publish"])],
                 env=env, mounts={str(out): str(out), **mounts}, files=files)
    return _exit_code(package, out, code)


def _exit_code(package: Package, out: Path, code: int) -> int:
    """The container's exit code, when it is one of dvbuild's and report.json is there."""
    from dvbuild.notebooks.report import REPORT

    what = f"{package.name}: the production run in the image exited with {code}"
    if read_report(package, out) is None:
        console.log(f"error: {what} and wrote no {out / package.name / REPORT} "
                    "(its output is above)")
        return 2 if code == 2 else 1
    if code not in (0, 1, 2):
        console.log(f"error: {what}")
        return 1
    return code


def passed(environ: Mapping[str, str]) -> dict[str, str]:
    """The caller's store and catalog credentials, S3 settings and GitHub run context
    (secrets masked); with AWS_PROFILE, where the profile is read from."""
    names = [*CREDENTIALS, *GITHUB_RUN, *sorted(k for k in environ if k.startswith(S3_SETTINGS))]
    found = {k: environ[k] for k in names if environ.get(k)}
    for name in MASKED:
        console.mask(found.get(name, ""))
    return {**found, **_profile_files(environ)} if found.get("AWS_PROFILE") else found


def _profile_files(environ: Mapping[str, str]) -> dict[str, str]:
    """The profile's files, named: in the container HOME is /tmp, not the caller's."""
    home = environ.get("HOME", "")
    defaults = {"AWS_SHARED_CREDENTIALS_FILE": f"{home}/.aws/credentials",
                "AWS_CONFIG_FILE": f"{home}/.aws/config"}
    return {k: environ.get(k) or v for k, v in defaults.items()
            if environ.get(k) or (home and Path(v).is_file())}


def _places(store: str | None, catalog: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """DVBUILD_STORE / DVBUILD_CATALOG for the container, and the mounts a file:// store
    or catalog needs: each at its own absolute path, created first."""
    from dvbuild.stores.file import FileStore

    env, mounts = {}, {}
    for name, url in (("DVBUILD_STORE", store), ("DVBUILD_CATALOG", catalog)):
        if not url:
            continue
        if urlsplit(url).scheme in ("file", ""):
            root = FileStore.from_url(url).root
            root.mkdir(parents=True, exist_ok=True)
            mounts[str(root)] = str(root)
            url = root.as_uri()
        console.mask(urlsplit(url).password or "")
        env[name] = url
    return env, mounts


def _pull_if_missing(engine: Engine, ref: str, auth: Mapping[str, str] | None) -> None:
    if not engine.exists(ref):
        console.log(f"pulling {ref}")
        if not engine.pull(ref, auth):
            raise ServiceError(
                f"cannot pull {ref}: the registry does not have it, or cannot be reached",
                hint="check the reference, and the registry's credentials "
                     "(DVBUILD_REGISTRY_USERNAME/PASSWORD, else the docker login)")
