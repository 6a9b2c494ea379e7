"""Webhook URLs must not turn the server into a proxy into its own network."""

from __future__ import annotations

import ipaddress

import pytest

from agentlist.core.langgraph_json import WebhookPolicy, parse
from agentlist.core.webhooks import WebhookRefusedError, forbidden_address, validate


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "fc00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "100.64.0.1",
    ],
)
def test_internal_addresses_are_forbidden(address: str) -> None:
    assert forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://2130706433/x",
        "http://0x7f000001/x",
        "ftp://example.com/x",
        "/relative/hook",
        "http:///nohost",
    ],
)
async def test_internal_or_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(WebhookRefusedError):
        await validate(url, WebhookPolicy())


async def test_policy_from_langgraph_json() -> None:
    policy = parse(
        {
            "webhooks": {
                "url": {
                    "require_https": True,
                    "allowed_domains": ["*.example.com"],
                    "allowed_ports": [443],
                    "max_url_length": 64,
                }
            }
        }
    ).webhooks
    with pytest.raises(WebhookRefusedError, match="https"):
        await validate("http://hooks.example.com/x", policy)
    with pytest.raises(WebhookRefusedError, match="allowed domains"):
        await validate("https://example.org/x", policy)
    with pytest.raises(WebhookRefusedError, match="allowed domains"):
        await validate("https://example.com/x", policy)  # a wildcard names subdomains only
    with pytest.raises(WebhookRefusedError, match="port"):
        await validate("https://hooks.example.com:8443/x", policy)
    with pytest.raises(WebhookRefusedError, match="longer"):
        await validate("https://hooks.example.com/" + "x" * 64, policy)


async def test_an_operator_can_allow_a_private_host_by_name() -> None:
    await validate("http://127.0.0.1:8123/hook", WebhookPolicy(allowed_domains=("127.0.0.1",)))


def test_webhook_header_templates_only_read_prefixed_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LG_WEBHOOK_TOKEN", "t0k")
    config = parse(
        {"webhooks": {"headers": {"Authorization": "Bearer ${{ env.LG_WEBHOOK_TOKEN }}"}}}
    )
    assert config.webhooks.headers == {"Authorization": "Bearer t0k"}
    with pytest.raises(ValueError, match="outside prefix"):
        parse({"webhooks": {"headers": {"X": "${{ env.HOME }}"}}})


async def test_disable_loopback_false_lets_webhooks_reach_this_host_only() -> None:
    policy = parse({"webhooks": {"url": {"disable_loopback": False}}}).webhooks
    await validate("http://127.0.0.1:8123/hook", policy)
    await validate("http://[::1]:8123/hook", policy)
    for internal in ("http://10.1.2.3/hook", "http://169.254.169.254/latest"):
        with pytest.raises(WebhookRefusedError, match="private or link-local"):
            await validate(internal, policy)
    with pytest.raises(WebhookRefusedError, match="loopback"):
        await validate("http://127.0.0.1:8123/hook", parse({}).webhooks)
