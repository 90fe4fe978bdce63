"""The outbound hosts a production run talks to (NAIS `accessPolicy.outbound.external`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from dvbuild.manifests.pick import Notes, Picker
from dvbuild.settings import Settings


def hosts(settings: Settings, pick: Picker, notes: Notes) -> list[dict[str, Any]]:
    """The hosts a production run talks to: store, catalog, Vault, webhook, `outbound`.
    `webhook` may be a URL, but only its host is used: the URL often holds a token."""
    urls: list[str] = []
    store = settings.config.store or ""
    if urlsplit(store).scheme == "s3":
        urls.append(s3_endpoint(settings) or f"https://{urlsplit(store).netloc}.s3.amazonaws.com")
    urls += [settings.config.catalog or "", str(settings.config.vault.get("address") or "")]
    extra = pick("outbound", [])
    if not isinstance(extra, list) or not all(isinstance(e, str) and _port_ok(e) for e in extra):
        notes.problem("outbound", f"outbound is {extra!r}",
                      expected="a list of host names (host or host:port)")
        extra = []
    webhook = pick("webhook")
    if webhook is not None and not (isinstance(webhook, str) and _port_ok(webhook)):
        notes.problem("webhook", f"webhook is {webhook!r}", expected="a URL or a host name")
        webhook = None
    extra = [*extra, webhook] if webhook else extra
    urls += [_url(e) for e in extra]
    return [dict(h) for h in _hosts_of(tuple(urls))]


def _url(host: str) -> str:
    return host if "//" in host else f"https://{host}"


def _port_ok(host: str) -> bool:
    try:
        urlsplit(_url(host)).port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    return True


@lru_cache(maxsize=256)
def _hosts_of(urls: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    found: dict[tuple[str, int | None], dict[str, Any]] = {}
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname and _port_ok(url):
            port = parts.port if parts.port not in (None, 443) else None
            found.setdefault((parts.hostname, port), {"host": parts.hostname, "port": port})
    return tuple(found.values())


def s3_endpoint(settings: Settings) -> str | None:
    store = settings.config.store or ""
    if urlsplit(store).scheme != "s3":
        return None
    env = settings.environ
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
