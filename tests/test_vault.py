"""Vault at the HTTP boundary: a local server answering exactly as Vault's HTTP API
documents (token lookup-self, Kubernetes and JWT login, KV v1 and v2 reads, the
ui/mounts preflight), plus tests against a real Vault when VAULT_ADDR is set."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from dvbuild.adapters import vault
from dvbuild.secrets import SecretError, default_resolvers, resolve_secrets

TOKEN = "hvs.test-token-0123456789"
VALUE = "db-Pa55word-from-vault"


def envelope(data: Any = None, auth: Any = None) -> dict[str, Any]:
    return {"request_id": "0b1e0d0c-1c1f-4d3a-9f44-3a8f0b5f0e21", "lease_id": "", "renewable": False,
            "lease_duration": 0, "data": data, "wrap_info": None, "warnings": None, "auth": auth}


def kv2(data: dict[str, Any]) -> dict[str, Any]:
    return envelope({"data": data, "metadata": {
        "created_time": "2026-01-05T10:00:00.000000Z", "custom_metadata": None, "deletion_time": "",
        "destroyed": False, "version": 3}})


def auth(token: str) -> dict[str, Any]:
    return envelope(auth={"client_token": token, "accessor": "acc-1", "policies": ["default", "data"],
                          "token_policies": ["default", "data"], "metadata": {"role": "dvbuild"},
                          "lease_duration": 3600, "renewable": True, "entity_id": "e-1",
                          "token_type": "service", "orphan": True})


def errors(*messages: str) -> str:
    return json.dumps({"errors": list(messages)})


def token_required(token: str) -> Callable[[Request], Response | None]:
    def check(request: Request) -> Response | None:
        if request.headers.get("X-Vault-Token") != token:
            return Response(errors("permission denied"), status=403, content_type="application/json")
        return None
    return check


def serve(server: HTTPServer, path: str, body: Any, *, token: str = TOKEN, method: str = "GET",
          status: int = 200) -> None:
    check = token_required(token)

    def handler(request: Request) -> Response:
        denied = check(request)
        if denied is not None:
            return denied
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, status=status, content_type="application/json")

    server.expect_request(path, method=method).respond_with_handler(handler)


def lookup_self(server: HTTPServer) -> None:
    serve(server, "/v1/auth/token/lookup-self", envelope({
        "accessor": "acc-1", "display_name": "token", "id": TOKEN, "policies": ["default"],
        "ttl": 3600, "type": "service"}))


def mounts(server: HTTPServer, mount: str, version: str) -> None:
    serve(server, f"/v1/sys/internal/ui/mounts/{mount}", envelope({
        "accessor": "kv_1234", "config": {}, "description": "", "local": False,
        "options": {"version": version}, "path": f"{mount}/", "seal_wrap": False, "type": "kv"}))


def environ(server: HTTPServer, **extra: str) -> dict[str, str]:
    return {"VAULT_ADDR": server.url_for("/").rstrip("/"), "VAULT_TOKEN": TOKEN, **extra}


def test_token_login_and_kv2_read(httpserver: HTTPServer) -> None:
    lookup_self(httpserver)
    mounts(httpserver, "secret", "2")
    serve(httpserver, "/v1/secret/data/team/db", kv2({"password": VALUE, "user": "etl-user-7f3a"}))
    values = resolve_secrets({"DB_PASSWORD": "vault:secret/team/db#password",
                              "DB_USER": "vault:secret/team/db#user"},
                             default_resolvers({}, environ(httpserver)))
    assert values == {"DB_PASSWORD": VALUE, "DB_USER": "etl-user-7f3a"}
    reads = [r for r, _ in httpserver.log if r.path == "/v1/secret/data/team/db"]
    assert len(reads) == 1  # one read per secret path, however many keys


def test_kv1_read(httpserver: HTTPServer) -> None:
    lookup_self(httpserver)
    mounts(httpserver, "kv", "1")
    serve(httpserver, "/v1/kv/team/api", {**envelope({"key": VALUE}), "lease_duration": 2764800})
    values = resolve_secrets({"API_KEY": "vault:kv/team/api#key"},
                             default_resolvers({}, environ(httpserver)))
    assert values == {"API_KEY": VALUE}


def test_kv_version_guessed_when_preflight_is_denied(httpserver: HTTPServer) -> None:
    lookup_self(httpserver)
    serve(httpserver, "/v1/sys/internal/ui/mounts/kv", errors("permission denied"), status=403)
    serve(httpserver, "/v1/kv/data/team/api", errors(), status=404)
    serve(httpserver, "/v1/kv/team/api", envelope({"key": VALUE}))
    client = vault.connect({}, environ(httpserver))
    assert client.read("kv", "team/api") == {"key": VALUE}


def test_bad_token_is_a_clear_error(httpserver: HTTPServer) -> None:
    lookup_self(httpserver)
    with pytest.raises(SecretError, match="token login failed"):
        resolve_secrets({"X": "vault:secret/a#b"},
                        default_resolvers({}, environ(httpserver, VAULT_TOKEN="hvs.wrong-one")))


def test_missing_path_and_key(httpserver: HTTPServer) -> None:
    lookup_self(httpserver)
    mounts(httpserver, "secret", "2")
    serve(httpserver, "/v1/secret/data/team/none", errors(), status=404)
    serve(httpserver, "/v1/secret/data/team/db", kv2({"password": VALUE}))
    with pytest.raises(SecretError) as e:
        resolve_secrets({"A": "vault:secret/team/none#x", "B": "vault:secret/team/db#nokey"},
                        default_resolvers({}, environ(httpserver)))
    assert "no secret at secret/team/none" in e.value.message
    assert "has no key 'nokey'" in e.value.message
    assert VALUE not in str(e.value)


def test_permission_denied(httpserver: HTTPServer) -> None:
    lookup_self(httpserver)
    mounts(httpserver, "secret", "2")
    serve(httpserver, "/v1/secret/data/other/db",
          errors("1 error occurred:\n\t* permission denied\n\n"), status=403)
    with pytest.raises(SecretError, match="denied"):
        vault.connect({}, environ(httpserver)).read("secret", "other/db")


def test_kubernetes_login(httpserver: HTTPServer, tmp_path: Path) -> None:
    jwt_file = tmp_path / "token"
    jwt_file.write_text("eyJhbGciOiJSUzI1NiJ9.k8s.sig\n")
    issued = "hvs.k8s-issued-token-42"

    def login(request: Request) -> Response:
        body = request.get_json()
        assert body == {"role": "dvbuild-job", "jwt": "eyJhbGciOiJSUzI1NiJ9.k8s.sig"}
        return Response(json.dumps(auth(issued)), content_type="application/json")

    httpserver.expect_request("/v1/auth/k8s-prod/login", method="POST").respond_with_handler(login)
    mounts(httpserver, "secret", "2")
    serve(httpserver, "/v1/secret/data/team/db", kv2({"password": VALUE}), token=issued)
    config = {"auth": "kubernetes", "role": "dvbuild-job", "mount": "k8s-prod",
              "jwt_path": str(jwt_file)}
    env = {"VAULT_ADDR": httpserver.url_for("/").rstrip("/")}
    assert vault.connect(config, env).read("secret", "team/db") == {"password": VALUE}


def test_github_jwt_login(httpserver: HTTPServer) -> None:
    id_token = "eyJhbGciOiJSUzI1NiJ9.github.sig"
    issued = "hvs.jwt-issued-token-7"

    def github(request: Request) -> Response:
        assert request.headers["Authorization"] == "bearer actions-request-token"
        assert request.args["audience"] == "https://vault.example"
        return Response(json.dumps({"count": 1, "value": id_token}), content_type="application/json")

    def login(request: Request) -> Response:
        assert request.get_json() == {"role": "repo-ci", "jwt": id_token}
        return Response(json.dumps(auth(issued)), content_type="application/json")

    httpserver.expect_request("/_apis/idtoken").respond_with_handler(github)
    httpserver.expect_request("/v1/auth/jwt/login", method="POST").respond_with_handler(login)
    mounts(httpserver, "secret", "2")
    serve(httpserver, "/v1/secret/data/ci/db", kv2({"password": VALUE}), token=issued)
    env = {"VAULT_ADDR": httpserver.url_for("/").rstrip("/"),
           "ACTIONS_ID_TOKEN_REQUEST_URL": httpserver.url_for("/_apis/idtoken") + "?api-version=2.0",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "actions-request-token"}
    config = {"role": "repo-ci", "audience": "https://vault.example"}
    assert vault.connect(config, env).read("secret", "ci/db") == {"password": VALUE}


def test_no_way_to_log_in() -> None:
    with pytest.raises(SecretError, match="no way to log in"):
        vault.method({"jwt_path": "/nonexistent/token"}, {})


def test_vault_secret_masked_in_a_test_run(httpserver: HTTPServer, make_repo: Any,
                                           tmp_path: Path) -> None:
    from dvbuild import notebooks
    from dvbuild.package import discover
    from dvbuild.settings import load_settings
    from tests.test_notebooks import notebook

    lookup_self(httpserver)
    mounts(httpserver, "secret", "2")
    serve(httpserver, "/v1/secret/data/team/db", kv2({"password": VALUE}))
    repo = make_repo(commit=False)
    repo.write("p/v/main.ipynb", notebook("import os; print(os.environ['DB_PASSWORD'])"))
    repo.write_package("p/v", secrets={"DB_PASSWORD": "vault:secret/team/db#password"})
    repo.commit()
    out = tmp_path / "out"
    settings = load_settings(repo.path, environ=environ(httpserver))
    report, = notebooks.test_packages(settings, discover(repo.path), out)
    assert report["status"] == "passed", report
    assert "***" in (out / "v/main.ipynb").read_text()
    assert not [p for p in out.rglob("*") if p.is_file() and VALUE.encode() in p.read_bytes()]


@pytest.mark.vault
@pytest.mark.skipif(not os.environ.get("VAULT_ADDR"), reason="needs a real Vault (VAULT_ADDR)")
def test_real_vault_kv2_roundtrip() -> None:
    """Against a real (dev) Vault: `vault server -dev` mounts KV v2 at secret/."""
    import hvac

    env = dict(os.environ)
    client = hvac.Client(url=env["VAULT_ADDR"], token=env.get("VAULT_TOKEN"))
    client.secrets.kv.v2.create_or_update_secret(path="dvbuild-test/db", secret={"password": VALUE},
                                                 mount_point="secret")
    values = resolve_secrets({"P": "vault:secret/dvbuild-test/db#password"},
                             default_resolvers({}, env))
    assert values == {"P": VALUE}
