"""Write the contracts in the forms other languages read.

``python contracts/export.py`` (re)writes ``contracts/schema/``:

* ``<message type>.schema.json``: the JSON Schema of each wire model;
* ``messages.schema.json``: one document with every model under ``$defs``;
* ``subjects.json``: every subject template, stream and queue group name;
* ``storage.json``: agreements on shared Postgres storage (advisory lock keys);
* ``postgres-migrations.json``: the migrations of LangGraph's Postgres store, read from the
  installed ``langgraph`` (the JS worker applies them to the same ``store`` table), so that a
  LangGraph upgrade which changes them shows as drift;
* ``rollback-sql.json``: the statements both workers run on LangGraph's checkpoint tables to
  roll a run back (``$n`` placeholders, one text for psycopg and pg), beside the checkpoint
  migrations of the installed ``langgraph-checkpoint-postgres`` they are written against: an
  upgrade which changes those tables shows as drift, to be read against the statements.

``--check`` writes nothing and exits 1 when the committed files differ from the models.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from langgraph.checkpoint.postgres.base import BasePostgresSaver
from langgraph.store.postgres.base import MIGRATIONS as STORE_MIGRATIONS
from pydantic import BaseModel

from agentlist.contracts import rollback_sql, storage, subjects
from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.events import AttemptStarted, RunEvent, RunOutcome
from agentlist.contracts.runs import CheckpointRef, DispatchReply, RunCancel, RunDispatch, RunKwargs
from agentlist.contracts.state import (
    BulkUpdateState,
    GetHistory,
    GetState,
    StateReply,
    UpdateState,
)
from agentlist.contracts.streams import StreamEnd
from agentlist.contracts.workers import (
    GraphInfo,
    GraphSchemas,
    Heartbeat,
    HeartbeatReply,
    HeldRun,
    RegisterReply,
    WorkerControl,
    WorkerControlReply,
    WorkerRegister,
)

MODELS: tuple[type[BaseModel], ...] = (
    RunDispatch,
    DispatchReply,
    RunCancel,
    RunKwargs,
    CheckpointRef,
    AttemptStarted,
    RunEvent,
    RunOutcome,
    ErrorInfo,
    WorkerRegister,
    RegisterReply,
    Heartbeat,
    HeartbeatReply,
    HeldRun,
    GraphInfo,
    GraphSchemas,
    WorkerControl,
    WorkerControlReply,
    GetState,
    GetHistory,
    UpdateState,
    BulkUpdateState,
    StateReply,
    StreamEnd,
)

SCHEMA_DIR = Path(__file__).parent / "schema"


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _file_name(model: type[BaseModel]) -> str:
    type_field = model.model_fields.get("type")
    if type_field is not None and isinstance(type_field.default, str):
        return f"{type_field.default}.schema.json"
    return f"{model.__name__}.schema.json"


def render() -> dict[str, str]:
    """Every exported file's name and content, computed from the models."""
    files = {_file_name(m): _dump(m.model_json_schema(mode="serialization")) for m in MODELS}
    bundle: dict[str, Any] = {"$defs": {}}
    for model in MODELS:
        schema = model.model_json_schema(mode="serialization", ref_template="#/$defs/{model}")
        bundle["$defs"].update(schema.pop("$defs", {}))
        bundle["$defs"][model.__name__] = schema
    files["messages.schema.json"] = _dump(bundle)
    files["subjects.json"] = _dump(subjects.all_names())
    files["storage.json"] = _dump({"LANGGRAPH_SETUP_LOCK": storage.LANGGRAPH_SETUP_LOCK})
    files["postgres-migrations.json"] = _dump({"store": list(STORE_MIGRATIONS)})
    files["rollback-sql.json"] = _dump(
        {
            "statements": rollback_sql.all_statements(),
            "written_against": {"checkpoint_migrations": list(BasePostgresSaver.MIGRATIONS)},
        }
    )
    return files


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of exported files that are missing, stale or no longer produced."""
    expected = render()
    stale = [
        name
        for name, content in expected.items()
        if not (directory / name).is_file() or (directory / name).read_text() != content
    ]
    extra = [p.name for p in directory.glob("*.json") if p.name not in expected]
    return sorted(stale + extra)


def write(directory: Path = SCHEMA_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    expected = render()
    for path in directory.glob("*.json"):
        if path.name not in expected:
            path.unlink()
    for name, content in expected.items():
        (directory / name).write_text(content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if committed files drifted")
    args = parser.parse_args(argv)
    if args.check:
        stale = drift()
        if stale:
            sys.stderr.write(f"contracts drifted, run `python contracts/export.py`: {stale}\n")
            return 1
        return 0
    write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
