"""Webhook URLs are checked when a run is created (the API answers 422) and again right
before a bridge sends (DNS may have changed): a server must not be made to call into its own
network (SSRF)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from agentlist.core.langgraph_json import WebhookPolicy

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefusedError(ValueError):
    """The URL breaks the webhook policy; the message says how."""


def forbidden_address(address: Address, *, allow_loopback: bool = False) -> bool:
    """Loopback (unless ``allow_loopback``), private, link-local (cloud metadata at
    169.254.169.254), multicast, reserved and unspecified addresses, also when written as
    IPv4-mapped IPv6."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return not allow_loopback
    return (
        address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _host_listed(host: str, domains: tuple[str, ...]) -> bool:
    for domain in domains:
        domain = domain.lower()
        if domain.startswith("*.") and host.endswith(domain[1:]) and host != domain[2:]:
            return True
        if host == domain:
            return True
    return False


async def _addresses(host: str, port: int) -> list[Address]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise WebhookRefusedError(f"Webhook host {host!r} does not resolve") from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def validate(url: str, policy: WebhookPolicy) -> None:
    """422 unless ``url`` is an absolute http(s) URL, within the policy, whose host resolves
    only to public addresses — or is named exactly in ``allowed_domains``."""
    if len(url) > policy.max_url_length:
        raise WebhookRefusedError(f"Webhook URL is longer than {policy.max_url_length} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefusedError("Webhook must be an absolute http(s) URL")
    if policy.require_https and parts.scheme != "https":
        raise WebhookRefusedError("Webhook must use https")
    host = parts.hostname.lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if policy.allowed_ports and port not in policy.allowed_ports:
        raise WebhookRefusedError(f"Webhook port {port} is not allowed")
    if policy.allowed_domains and not _host_listed(host, policy.allowed_domains):
        raise WebhookRefusedError(f"Webhook host {host!r} is not in the allowed domains")
    if host in (domain.lower() for domain in policy.allowed_domains):
        return  # named explicitly by the operator: trusted even on a private network
    allow_loopback = not policy.disable_loopback
    addresses = await _addresses(host, port)
    if any(forbidden_address(a, allow_loopback=allow_loopback) for a in addresses):
        raise WebhookRefusedError(
            f"Webhook host {host!r} resolves to a loopback, private or link-local address"
        )
