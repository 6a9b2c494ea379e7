"""The bridge's settings (``AGENTLIST_BRIDGE_*``), read once by :func:`service.main`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agentlist.core.settings import ControlPlaneSettings


class BridgeSettings(ControlPlaneSettings):
    model_config = SettingsConfigDict(env_prefix="AGENTLIST_BRIDGE_")

    batch_size: int = Field(default=256, ge=1, le=4096)
    """Messages fetched from JetStream per round; their Redis writes share one pipeline."""
    fetch_timeout_seconds: float = Field(default=1.0, gt=0)
    """How long one fetch waits for messages; also bounds how long a stop takes."""
    ack_wait_seconds: float = Field(default=15.0, gt=0)
    """A message not acknowledged within this time goes to another bridge."""
    max_ack_pending: int = Field(default=4096, ge=1)
    """Messages out at all bridges together before JetStream holds back (backpressure)."""
    hold_seconds: float = Field(default=2.0, ge=0)
    """How long an early message is kept at this bridge, retried with each fetch, before it
    is handed back to JetStream (its predecessor is most often in another bridge's batch,
    written a moment later). Longer than ``max_nak_delay_seconds``: when a run is stuck
    (its next message was at a bridge that died, and comes back only after the ack wait),
    its messages handed back come back while the others are still held, so the run's messages
    are written together once it arrives; held for less, each would come back on a schedule
    of its own and the run would advance a few messages per round. Capped by
    :attr:`early_hold_seconds`."""
    nak_delay_seconds: float = Field(default=0.05, gt=0)
    """Redelivery delay of a message handed back; doubles with each delivery."""
    max_nak_delay_seconds: float = Field(default=1.0, gt=0)
    gap_patience_seconds: float = Field(default=45.0, ge=0)
    """How long a run may wait, making no progress, for a message that never comes before
    the bridge gives it up and writes the next one (logged as an error). Longer than
    ``ack_wait_seconds``, so a message held by a crashed or frozen bridge comes back
    first."""
    max_failed_deliveries: int = Field(default=20, ge=1)
    """Deliveries after which a message whose processing fails for its own sake (not for
    want of a server) is terminated and logged, instead of handed back again."""
    live_stream_ttl_seconds: int = Field(default=86_400, ge=1)
    """Expiry of a live run's keys, renewed on each write; the end sets the retention."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long a webhook receiver has to answer one delivery."""
    webhook_max_attempts: int = Field(default=5, ge=1)
    """Deliveries tried (with growing pauses) before a webhook is given up."""
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    """How often due webhook deliveries are looked for."""

    @property
    def early_hold_seconds(self) -> float:
        """The hold, ended before JetStream would deliver the message again anyway."""
        return min(self.hold_seconds, 0.8 * self.ack_wait_seconds)
