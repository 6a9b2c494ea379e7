"""What a worker tells the registry about each graph: schemas and drawable graphs, so that
``/assistants/{id}/schemas``, ``/graph`` and ``/subgraphs`` need no worker to answer."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any, cast, get_type_hints

from langgraph.pregel import Pregel
from pydantic import Field, TypeAdapter, create_model
from typing_extensions import TypedDict, is_typeddict

from agentlist.contracts import GraphInfo, GraphSchemas
from agentlist.worker.loader import Graph, GraphSource
from agentlist.worker.serde import to_jsonable

logger = logging.getLogger(__name__)

_NS_SEP = "|"


async def describe(source: GraphSource) -> GraphInfo:
    """The graph's :class:`GraphInfo`; a part that cannot be computed is left out."""
    try:
        graph = await source.build({"configurable": {}}, None, None)
    except Exception:
        logger.exception("graph %s: cannot build it to describe it", source.graph_id)
        return GraphInfo(graph_id=source.graph_id, description=source.description)
    subgraphs = _subgraphs(graph)
    depth = max((ns.count(_NS_SEP) + 1 for ns in subgraphs), default=0)
    return GraphInfo(
        graph_id=source.graph_id,
        name=graph.name or source.graph_id,
        description=source.description,
        schemas=schemas_of(graph),
        drawable=_drawables(graph, depth),
        subgraphs={ns: schemas_of(subgraph) for ns, subgraph in subgraphs.items()},
    )


def schemas_of(graph: Graph) -> GraphSchemas:
    return GraphSchemas(
        input_schema=_attempt(graph.get_input_jsonschema)
        or _attempt(partial(_declared_schema, graph, "input_schema")),
        output_schema=_attempt(graph.get_output_jsonschema)
        or _attempt(partial(_declared_schema, graph, "output_schema")),
        state_schema=_attempt(partial(state_jsonschema, graph)),
        config_schema=_attempt(graph.get_config_jsonschema),
        context_schema=_attempt(graph.get_context_jsonschema),
    )


def _declared_schema(graph: Graph, which: str) -> dict[str, Any] | None:
    """The schema of a ``StateGraph``'s declared input or output ``typing.TypedDict``, which
    pydantic refuses to read on Python < 3.12; rebuilt as a ``typing_extensions`` one."""
    declared = getattr(getattr(graph, "builder", None), which, None)
    if declared is None or not is_typeddict(declared):
        return None
    hints = get_type_hints(declared, include_extras=True)
    total = bool(getattr(declared, "__total__", True))
    readable = cast(Any, TypedDict)(declared.__name__, hints, total=total)
    schema: dict[str, Any] = TypeAdapter(readable).json_schema()
    return schema


def state_jsonschema(graph: Graph) -> dict[str, Any]:
    """The state as the channels a client sees (what langgraph-api reports)."""
    fields: dict[str, Any] = {}
    for index, name in enumerate(graph.stream_channels_list):
        channel: Any = graph.channels[name]
        field_type: Any = getattr(channel, "UpdateType", Any)
        try:
            TypeAdapter(field_type).json_schema()
        except Exception:
            field_type = Any
        # Aliased: channel names may start with "_", which pydantic refuses as field names.
        fields[f"channel_{index}"] = (field_type, Field(default=None, alias=name))
    model: Any = create_model(graph.get_name("State"), **fields)
    schema: dict[str, Any] = model.model_json_schema(by_alias=True)
    return schema


def _subgraphs(graph: Graph) -> dict[str, Graph]:
    try:
        return {
            ns: subgraph
            for ns, subgraph in graph.get_subgraphs(recurse=True)
            if isinstance(subgraph, Pregel)
        }
    except Exception:
        logger.warning("graph %s: cannot list its subgraphs", graph.name, exc_info=True)
        return {}


def _drawables(graph: Graph, depth: int) -> dict[str, dict[str, Any]]:
    drawables: dict[str, dict[str, Any]] = {}
    for xray in range(depth + 1):
        drawable = _attempt(partial(_drawable, graph, xray))
        if isinstance(drawable, dict):
            drawables[str(xray)] = drawable
    return drawables


def _drawable(graph: Graph, xray: int) -> dict[str, Any]:
    return graph.get_graph(xray=xray).to_json()


def _attempt(compute: Callable[[], Any]) -> dict[str, Any] | None:
    """Schemas are best effort: a graph with an odd type still serves runs."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = compute()
    except Exception as exc:
        logger.debug("schema unavailable: %r", exc)
        return None
    return to_jsonable(value) if value is not None else None
