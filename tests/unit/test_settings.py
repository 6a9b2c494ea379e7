"""Each service reads its own prefix: a variable two services read is the seed's or the mesh's."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from agentlist.api.settings import ApiSettings
from agentlist.bridge.settings import BridgeSettings
from agentlist.core.settings import MeshSettings
from agentlist.registry.settings import RegistrySettings
from agentlist.scheduler.settings import SchedulerSettings
from agentlist.worker.settings import WorkerSettings

SERVICES: tuple[type[BaseSettings], ...] = (
    ApiSettings,
    BridgeSettings,
    RegistrySettings,
    SchedulerSettings,
    WorkerSettings,
)
SEED_NAMES = {
    "NATS_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "PORT",
    "HOST",
    "JWT_SECRET",
    "AUTH_ENABLED",
}


def variables(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads, as pydantic-settings resolves them."""
    prefix = settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field, info in settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        else:
            names.add(f"{prefix}{field}".upper())
    return names


def test_a_variable_read_by_two_services_is_a_seed_or_mesh_wide_one() -> None:
    counts = Counter(name for service in SERVICES for name in variables(service))
    shared = {name for name, count in counts.items() if count > 1}
    assert shared <= SEED_NAMES | variables(MeshSettings)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.__name__)
def test_every_own_setting_carries_the_services_prefix(service: type[BaseSettings]) -> None:
    prefix = service.model_config.get("env_prefix", "")
    own = variables(service) - variables(MeshSettings) - SEED_NAMES
    assert prefix.startswith("AGENTLIST_") and prefix != "AGENTLIST_"
    assert own and all(name.startswith(prefix) for name in own)


def test_a_pool_size_for_the_scheduler_is_not_the_registrys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTLIST_SCHEDULER_POOL_SIZE", "3")
    monkeypatch.setenv("AGENTLIST_LEASE_SECONDS", "7")
    scheduler, registry = SchedulerSettings(), RegistrySettings()
    assert scheduler.pool_size == 3
    assert registry.pool_size == RegistrySettings.model_fields["pool_size"].default
    assert scheduler.lease_seconds == registry.lease_seconds == 7
