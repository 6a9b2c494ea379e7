"""The server sections of ``langgraph.json`` that the API honours, as langgraph-api does:
``http.cors``, ``http.configurable_headers``, ``webhooks`` (URL policy and headers), ``store.ttl``,
``checkpointer.ttl`` (default thread TTL) and ``auth`` (custom authentication). Unknown keys are
ignored."""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TEMPLATE = re.compile(r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
SERVER_CREDENTIAL_HEADERS = ("x-gateway-secret",)
"""AgentList's own credentials: a gateway proves itself to the API with them. A graph has no use
for them and a langgraph.json written for langgraph-api cannot know to exclude them, so they are
excluded whatever ``http.configurable_headers`` says."""
DEFAULT_HEADER_EXCLUDES = ("x-api-key", "x-tenant-id", "x-service-key", "x-*-access-token")
"""langgraph-api's defaults, plus the caller's access token that an authenticating proxy in front
of the server passes on (oauth2-proxy's ``X-Forwarded-Access-Token`` and
``X-Auth-Request-Access-Token``): a login credential, which forwarding would copy into every
checkpoint and webhook. Other ``x-*`` headers still follow langgraph-api, since graphs rely on
them (an identity a proxy sets, a key a client means its graph to use)."""


class ServerConfigError(ValueError):
    """A server section of ``langgraph.json`` that cannot be used as written."""


@dataclass(frozen=True)
class HeaderRules:
    """Which request headers reach ``config.configurable``: ``x-*`` and ``user-agent`` by
    default; ``includes``/``excludes`` are glob patterns, excludes winning, and never
    :data:`SERVER_CREDENTIAL_HEADERS`."""

    includes: tuple[str, ...] | None = None
    excludes: tuple[str, ...] = DEFAULT_HEADER_EXCLUDES

    def allows(self, name: str) -> bool:
        name = name.lower()
        if name in SERVER_CREDENTIAL_HEADERS:
            return False
        if any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in self.excludes):
            return False
        if self.includes is None:
            return name.startswith("x-") or name == "user-agent"
        return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in self.includes)


@dataclass(frozen=True)
class WebhookPolicy:
    require_https: bool = False
    allowed_domains: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()
    max_url_length: int = 4096
    headers: dict[str, str] = field(default_factory=dict)
    disable_loopback: bool = True
    """langgraph-api's ``webhooks.url.disable_loopback``: false lets webhooks reach this host
    (private and link-local addresses stay refused)."""


@dataclass(frozen=True)
class AuthSection:
    """``"auth": {"path": "./auth.py:auth"}``: a langgraph_sdk ``Auth`` object, its path
    relative to ``folder`` (the config's own folder)."""

    path: str
    folder: Path


@dataclass(frozen=True)
class ServerConfig:
    cors: dict[str, Any] = field(default_factory=dict)
    headers: HeaderRules = field(default_factory=HeaderRules)
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)
    store_ttl: dict[str, Any] | None = None
    thread_ttl: dict[str, Any] | None = None
    auth: AuthSection | None = None


def _resolve_headers(templates: dict[str, str], env_prefix: str) -> dict[str, str]:
    """``${{ env.VAR }}`` from the environment, only for variables under ``env_prefix`` (so a
    config cannot leak arbitrary secrets into outbound requests)."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name.startswith(env_prefix):
            raise ValueError(f"webhook header template uses {name}, outside prefix {env_prefix}")
        return os.environ.get(name, "")

    return {key: _TEMPLATE.sub(substitute, value) for key, value in templates.items()}


def _webhook_policy(section: dict[str, Any]) -> WebhookPolicy:
    url = section.get("url") or {}
    return WebhookPolicy(
        require_https=bool(url.get("require_https", False)),
        allowed_domains=tuple(url.get("allowed_domains") or ()),
        allowed_ports=tuple(int(port) for port in url.get("allowed_ports") or ()),
        max_url_length=int(url.get("max_url_length") or 4096),
        disable_loopback=url.get("disable_loopback", True) is not False,
        headers=_resolve_headers(
            section.get("headers") or {}, section.get("env_prefix") or "LG_WEBHOOK_"
        ),
    )


def _header_rules(section: dict[str, Any] | None) -> HeaderRules:
    if not section:
        return HeaderRules()
    includes = section.get("includes")
    return HeaderRules(
        includes=tuple(includes) if includes is not None else None,
        excludes=tuple(section.get("excludes") or DEFAULT_HEADER_EXCLUDES),
    )


def _auth_section(section: object, folder: Path) -> AuthSection | None:
    if not section:
        return None
    path = section.get("path") if isinstance(section, dict) else None
    if not isinstance(path, str) or not path:
        raise ServerConfigError('langgraph.json: "auth" needs "path": "./auth.py:auth"')
    return AuthSection(path=path, folder=folder)


def parse(document: dict[str, Any], folder: Path = Path()) -> ServerConfig:
    http = document.get("http") or {}
    return ServerConfig(
        cors=http.get("cors") or {},
        headers=_header_rules(http.get("configurable_headers")),
        webhooks=_webhook_policy(document.get("webhooks") or {}),
        store_ttl=(document.get("store") or {}).get("ttl"),
        thread_ttl=(document.get("checkpointer") or {}).get("ttl"),
        auth=_auth_section(document.get("auth"), folder),
    )


def load(path: str | None) -> ServerConfig:
    if not path:
        return ServerConfig()
    config = Path(path)
    return parse(json.loads(config.read_text()), config.resolve().parent)
