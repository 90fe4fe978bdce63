"""The one module that talks to HashiCorp Vault (through hvac).

Log in with a token (`VAULT_TOKEN`), the Kubernetes auth method (the pod's
service-account token) or JWT/OIDC (GitHub Actions' id-token), then read KV
secrets, v1 or v2. The KV version comes from `vault.kv_version` in
dvbuild.yaml, else from the mount's own description (the preflight the vault
CLI makes, `sys/internal/ui/mounts/<mount>`), else v2 then v1 is tried.

dvbuild.yaml `vault:` keys (all optional): `address` (else $VAULT_ADDR),
`auth` (`token` | `kubernetes` | `jwt`; else guessed from the environment),
`role` (else $VAULT_ROLE), `mount` (where the auth method is mounted; default
its name), `kv_version` (1 or 2), `namespace` (else $VAULT_NAMESPACE),
`audience` (for the GitHub id-token), `jwt_path` (Kubernetes token file).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dvbuild import console
from dvbuild.errors import MissingDependency, SecretError, ServiceError

K8S_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
METHODS = ("token", "kubernetes", "jwt")


class VaultClient:
    def __init__(self, client: Any, kv_version: int | None = None) -> None:
        self.client = client
        self.kv_version = kv_version
        self._versions: dict[str, int | None] = {}

    def read(self, mount: str, path: str) -> dict[str, Any]:
        """The key/value pairs of the secret at <mount>/<path>."""
        version = self.kv_version or self._mount_version(mount)
        if version == 1:
            return self._v1(mount, path)
        if version == 2:
            return self._v2(mount, path)
        try:
            return self._v2(mount, path)
        except SecretError:
            return self._v1(mount, path)

    def _mount_version(self, mount: str) -> int | None:
        if mount not in self._versions:
            self._versions[mount] = None
            try:
                answer = self.client.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}")
                options = (_body(answer).get("data") or {}).get("options") or {}
                self._versions[mount] = int(options.get("version") or 1)
            except Exception:  # no permission to look: fall back to trying both
                pass
        return self._versions[mount]

    def _v2(self, mount: str, path: str) -> dict[str, Any]:
        answer = _call(lambda: self.client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True), mount, path)
        return dict(((answer.get("data") or {}).get("data")) or {})

    def _v1(self, mount: str, path: str) -> dict[str, Any]:
        answer = _call(lambda: self.client.secrets.kv.v1.read_secret(path=path, mount_point=mount),
                       mount, path)
        return dict(answer.get("data") or {})


def _body(answer: Any) -> dict[str, Any]:
    if isinstance(answer, dict):
        return answer
    return dict(answer.json()) if hasattr(answer, "json") else {}


def _call(read: Any, mount: str, path: str) -> dict[str, Any]:
    import hvac.exceptions as hx

    try:
        return _body(read())
    except hx.InvalidPath:
        raise SecretError(f"Vault has no secret at {mount}/{path}") from None
    except hx.Forbidden:
        raise SecretError(f"Vault denied reading {mount}/{path} (permission denied)",
                          hint="does the role's policy allow read on this path?") from None
    except hx.VaultError as e:
        raise ServiceError(f"Vault could not read {mount}/{path}: {_short(e)}") from None
    except OSError as e:
        raise ServiceError(f"Vault did not answer reading {mount}/{path}: {e}") from None


def _short(error: Exception) -> str:
    return console.redact(str(error).splitlines()[0] if str(error) else type(error).__name__)


def connect(config: Mapping[str, Any], environ: Mapping[str, str]) -> VaultClient:
    """A logged-in client; raises SecretError/ServiceError with what to fix."""
    try:
        import hvac
    except ImportError:
        raise MissingDependency("hvac", "vault") from None
    address = config.get("address") or environ.get("VAULT_ADDR")
    if not address:
        raise SecretError("no Vault address", hint="set vault.address in dvbuild.yaml or VAULT_ADDR")
    client = hvac.Client(url=str(address), namespace=config.get("namespace")
                         or environ.get("VAULT_NAMESPACE") or None)
    login(client, config, environ)
    version = config.get("kv_version")
    return VaultClient(client, int(version) if version else None)


def method(config: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    chosen = config.get("auth") or config.get("method")
    if chosen:
        if chosen not in METHODS:
            raise SecretError(f"unknown Vault auth method {chosen!r}",
                              hint="vault.auth is one of " + ", ".join(METHODS))
        return str(chosen)
    if environ.get("VAULT_TOKEN"):
        return "token"
    if Path(config.get("jwt_path") or K8S_TOKEN).is_file():
        return "kubernetes"
    if environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        return "jwt"
    raise SecretError("no way to log in to Vault",
                      hint="set VAULT_TOKEN, run in Kubernetes, or give the job id-token: write")


def login(client: Any, config: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    import hvac.exceptions as hx

    how = method(config, environ)
    mount = str(config.get("mount") or how)
    role = config.get("role") or environ.get("VAULT_ROLE")
    try:
        if how == "token":
            _token_login(client, environ)
        elif how == "kubernetes":
            jwt = Path(config.get("jwt_path") or K8S_TOKEN).read_text().strip()
            client.auth.kubernetes.login(_need(role), jwt, mount_point=mount)
        else:
            client.auth.jwt.jwt_login(_need(role), github_id_token(environ, config.get("audience")),
                                      path=mount)
    except (hx.Forbidden, hx.Unauthorized, hx.InvalidRequest) as e:
        raise SecretError(f"Vault {how} login failed: {_short(e)}") from None
    except hx.VaultError as e:
        raise ServiceError(f"Vault {how} login failed: {_short(e)}") from None
    except OSError as e:
        raise ServiceError(f"Vault did not answer ({how} login): {e}") from None
    if client.token:
        console.mask(str(client.token))


def _token_login(client: Any, environ: Mapping[str, str]) -> None:
    token = environ.get("VAULT_TOKEN")
    if not token:
        raise SecretError("Vault token auth needs VAULT_TOKEN")
    console.mask(token)
    client.token = token
    client.auth.token.lookup_self()  # a bad token fails here, not on the first read


def _need(role: Any) -> str:
    if not role:
        raise SecretError("Vault login needs a role", hint="set vault.role in dvbuild.yaml or VAULT_ROLE")
    return str(role)


def github_id_token(environ: Mapping[str, str], audience: str | None) -> str:
    """GitHub Actions' OIDC token for this job (the job needs `id-token: write`)."""
    url = environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    bearer = environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        raise SecretError("no GitHub id-token available",
                          hint="give the job `permissions: id-token: write`")
    if audience:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"audience": audience})
    request = urllib.request.Request(url, headers={"Authorization": f"bearer {bearer}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            value = str(json.load(response)["value"])
    except (OSError, ValueError, KeyError) as e:
        raise ServiceError(f"could not get GitHub's id-token: {e}") from None
    console.mask(value)
    return value
