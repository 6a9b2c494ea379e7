"""The one source of truth of the AgentList mesh: NATS subjects and wire models.

Import-free of any IO library: pydantic only. ``python contracts/export.py`` writes
the JSON Schema of every model and the subject list that the TypeScript worker is built from.
"""

from agentlist.contracts import subjects
from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.events import (
    RUN_MESSAGE,
    AttemptStarted,
    OutcomeStatus,
    RunEvent,
    RunMessage,
    RunOutcome,
)
from agentlist.contracts.runs import (
    CancelAction,
    CheckpointRef,
    DispatchReply,
    Durability,
    RunCancel,
    RunDispatch,
    RunKwargs,
    StreamMode,
)
from agentlist.contracts.state import (
    STATE_REQUEST,
    BulkUpdateState,
    GetHistory,
    GetState,
    StateReply,
    StateRequest,
    UpdateState,
)
from agentlist.contracts.workers import (
    GraphInfo,
    GraphSchemas,
    Heartbeat,
    HeartbeatReply,
    HeldRun,
    RegisterReply,
    WorkerControl,
    WorkerControlReply,
    WorkerLanguage,
    WorkerRegister,
)

__all__ = [
    "RUN_MESSAGE",
    "STATE_REQUEST",
    "AttemptStarted",
    "BulkUpdateState",
    "CancelAction",
    "CheckpointRef",
    "DispatchReply",
    "Durability",
    "ErrorInfo",
    "GetHistory",
    "GetState",
    "GraphInfo",
    "GraphSchemas",
    "Heartbeat",
    "HeartbeatReply",
    "HeldRun",
    "OutcomeStatus",
    "RegisterReply",
    "RunCancel",
    "RunDispatch",
    "RunEvent",
    "RunKwargs",
    "RunMessage",
    "RunOutcome",
    "StateReply",
    "StateRequest",
    "StreamMode",
    "UpdateState",
    "WorkerControl",
    "WorkerControlReply",
    "WorkerLanguage",
    "WorkerRegister",
    "subjects",
]
