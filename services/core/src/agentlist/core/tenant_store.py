"""One tenant's part of LangGraph's store, as the API's ``/store`` and a tenant's runs see it.

Every tenant shares the ``store`` table. The physical namespace of an item is the tenant's
label followed by the namespace its tenant wrote: the label is added on the way in and
stripped on the way out, so a tenant sees its namespaces exactly as it wrote them and no other
tenant's at all. A client or graph may not start a namespace with the reserved label prefix,
so the label stays the server's. The TypeScript worker's ``src/store.ts`` labels alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, cast

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

RESERVED_LABEL_PREFIX: Final = "__tenant__"
"""No namespace a client or graph names may start with a label that starts with this."""

# Bytes kept as they are in a tenant label; every other one is percent-encoded, so the label
# has no '.' (the namespace separator) and no ':' (which LangGraph.js refuses in labels).
_PLAIN: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def tenant_label(tenant: str) -> str:
    """The first physical label of every item of ``tenant``."""
    encoded = "".join(chr(b) if b in _PLAIN else f"%{b:02X}" for b in tenant.encode())
    return f"{RESERVED_LABEL_PREFIX}{encoded}"


def is_reserved(namespace: tuple[str, ...]) -> bool:
    """Whether ``namespace`` starts with a label only the server may write."""
    return bool(namespace) and namespace[0].startswith(RESERVED_LABEL_PREFIX)


class TenantStore(BaseStore):
    """``store`` seen by one tenant: namespaces under the tenant's label, without it."""

    def __init__(self, store: BaseStore, tenant: str) -> None:
        self._store = store
        self._label = tenant_label(tenant)
        # BaseStore applies these in put/get before batching: the inner store's defaults.
        self.supports_ttl = store.supports_ttl
        self.ttl_config = store.ttl_config

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        results = self._store.batch([self._inward(op) for op in ops])
        return [_outward(op, result) for op, result in zip(ops, results, strict=True)]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        results = await self._store.abatch([self._inward(op) for op in ops])
        return [_outward(op, result) for op, result in zip(ops, results, strict=True)]

    def _physical(self, namespace: tuple[str, ...]) -> tuple[str, ...]:
        return (self._label, *_checked(namespace))

    def _inward(self, op: Op) -> Op:
        if isinstance(op, (GetOp, PutOp)):
            return op._replace(namespace=self._physical(op.namespace))
        if isinstance(op, SearchOp):
            return op._replace(namespace_prefix=self._physical(op.namespace_prefix))
        if isinstance(op, ListNamespacesOp):
            return self._listing(op)
        raise TypeError(f"Unknown store operation: {op!r}")

    def _listing(self, op: ListNamespacesOp) -> ListNamespacesOp:
        """Prefixes start at the tenant's label, and there is always one; suffixes are whole
        namespaces' ends either way; depths count the label."""
        conditions = [
            MatchCondition("prefix", self._physical(condition.path))
            if condition.match_type == "prefix"
            else MatchCondition(condition.match_type, _checked(condition.path))
            for condition in op.match_conditions or ()
        ]
        if not any(condition.match_type == "prefix" for condition in conditions):
            conditions.append(MatchCondition("prefix", (self._label,)))
        max_depth = op.max_depth + 1 if op.max_depth is not None else None
        return op._replace(match_conditions=tuple(conditions), max_depth=max_depth)


def _outward(op: Op, result: Result) -> Result:
    """``result`` of ``op`` with the tenant's label taken off its namespaces."""
    if isinstance(op, GetOp):
        return _without_label(result) if isinstance(result, Item) else result
    if isinstance(op, SearchOp):
        return [_without_label(item) for item in cast(list[SearchItem], result)]
    if isinstance(op, ListNamespacesOp):
        return [namespace[1:] for namespace in cast(list[tuple[str, ...]], result)]
    return result


def _checked(namespace: tuple[str, ...]) -> tuple[str, ...]:
    if is_reserved(namespace):
        raise InvalidNamespaceError(
            f"A namespace cannot start with {RESERVED_LABEL_PREFIX!r}, which the server"
            f" reserves: {namespace}"
        )
    return namespace


def _without_label(item: Item) -> Item:
    namespace = item.namespace[1:]
    if isinstance(item, SearchItem):
        return SearchItem(
            namespace,
            item.key,
            item.value,
            item.created_at,
            item.updated_at,
            item.score,
        )
    return Item(
        value=item.value,
        key=item.key,
        namespace=namespace,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )
