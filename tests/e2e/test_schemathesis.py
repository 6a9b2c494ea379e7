"""Schemathesis over the whole OpenAPI document of a running stack: requests generated from the
document (valid ones and, mostly, invalid ones) never get a 5xx, and every answer is what the
document says, in status, content type and shape (errors are ``{"detail": "..."}``).

Path ids name real things where they may (an assistant, a thread with a finished run, its
checkpoint, a cron), so that requests reach past "not found" into each operation. Bounded in
time (the fuzzing phase repeats until ``--max-time`` is spent) and seeded, so that a run is
reproducible with ``st run <api>/openapi.json --seed ...`` and the same options and ids."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentlist.launcher import Stack

SEED = 20261207
SECONDS = 40
EXAMPLES_PER_OPERATION = 10
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
# Stateful testing chains operations by the links of the document, which names none.
PHASES = "examples,coverage,fuzzing"


async def _real_ids(sdk: Any) -> dict[str, str]:
    """Path parameters naming things that exist (never a worker: a drain would stop it)."""
    assistant = await sdk.assistants.create("agent", name="schemathesis")
    thread = await sdk.threads.create(metadata={"for": "schemathesis"})
    hello = {"messages": [{"role": "user", "content": "hello"}]}
    run = await sdk.runs.create(thread["thread_id"], "agent", input=hello)
    await sdk.runs.join(thread["thread_id"], run["run_id"])
    state = await sdk.threads.get_state(thread["thread_id"])
    # Once a year: a cron that must not fire while the test runs.
    cron = await sdk.crons.create_for_thread(thread["thread_id"], "agent", schedule="0 0 1 1 *")
    return {
        "path.assistant_id": assistant["assistant_id"],
        "path.thread_id": thread["thread_id"],
        "path.run_id": run["run_id"],
        "path.checkpoint_id": state["checkpoint"]["checkpoint_id"],
        "path.cron_id": cron["cron_id"],
    }


def _schemathesis(
    api_url: str, ids: dict[str, str], reports: Path
) -> tuple[subprocess.CompletedProcess[str], Any]:
    config = reports / "schemathesis.toml"
    config.write_text(
        "[parameters]\n" + "".join(f'"{name}" = "{value}"\n' for name, value in ids.items())
    )
    command = [
        str(Path(sys.executable).with_name("st")),
        f"--config-file={config}",
        "run",
        f"{api_url}/openapi.json",
        f"--checks={','.join(CHECKS)}",
        f"--phases={PHASES}",
        f"--max-examples={EXAMPLES_PER_OPERATION}",
        f"--max-time={SECONDS}",
        f"--seed={SEED}",
        "--workers=2",
        "--request-timeout=3",  # a thread's stream stays open: do not wait it out
        "--report=json",
        f"--report-json-path={reports / 'report.json'}",
    ]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=SECONDS + 40, check=False, cwd=reports
    )
    report = json.loads((reports / "report.json").read_text())
    return finished, report


async def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(
    stack: Stack, sdk: Any, tmp_path: Path
) -> None:
    ids = await _real_ids(sdk)
    try:
        finished, report = await asyncio.to_thread(_schemathesis, stack.api_url, ids, tmp_path)
    finally:
        with contextlib.suppress(httpx.HTTPStatusError):  # schemathesis may have deleted it
            await sdk.crons.delete(ids["path.cron_id"])
    output = finished.stdout[-6000:] + finished.stderr[-2000:]
    operations, cases = report["operations"], report["test_cases"]
    print(  # the figures, in the test's output with -s
        f"schemathesis: {operations['tested']}/{operations['total']} operations, "
        f"{cases['generated']} requests, {cases['with_failures']} failed, "
        f"{len(report['errors'])} generation errors, in {report['running_time']:.0f}s"
    )
    assert report["failures"] == [], output
    assert operations["tested"] == operations["total"] > 60, operations
    # About 1000 on a quiet 2-core machine; a floor that still means every operation was tried.
    assert cases["generated"] > 5 * operations["total"], cases
    assert finished.returncode == 0 or report["errors"], output


# What schemathesis found (500s: values LangGraph's store passed on to a database that refused
# them, an operator it raised on; a command the worker failed on), and their neighbours: each
# now a 422 that says what is wrong, in the API's words.
TOO_LONG = 1e300  # minutes: no interval holds it
HUGE = 10**30  # past a bigint


@pytest.mark.parametrize(
    ("method", "path", "body", "detail"),
    [
        (
            "PUT",
            "/store/items",
            {"namespace": ["a"], "key": "k", "value": {}, "ttl": TOO_LONG},
            "ttl",
        ),
        (
            "PUT",
            "/store",
            {"items": [{"namespace": ["a"], "key": "k", "value": {}, "ttl": TOO_LONG}]},
            "ttl",
        ),
        ("POST", "/threads", {"ttl": {"ttl": TOO_LONG}}, "ttl"),
        ("POST", "/store/namespaces", {"max_depth": HUGE}, "max_depth"),
        ("POST", "/store/namespaces", {"offset": HUGE}, "offset"),
        ("POST", "/store/items/search", {"namespace_prefix": ["a"], "offset": HUGE}, "offset"),
        ("GET", f"/store?offset={HUGE}", None, "offset"),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k\u0000", "value": {}}, "NUL"),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {"x": "\u0000"}}, "NUL"),
        (
            "POST",
            "/store/items/search",
            {"namespace_prefix": ["a"], "filter": {"x": "\u0000"}},
            "NUL",
        ),
        (
            "POST",
            "/store/items/search",
            {"namespace_prefix": ["a"], "filter": {"x": {"$like": "a%"}}},
            "'$like' is not an operator",
        ),
        # The worker read a Send's node as target["node"]: a KeyError, the run failed.
        ("POST", "/runs/wait", {"assistant_id": "agent", "command": {"goto": {"x": 1}}}, "goto"),
        ("POST", "/runs/wait", {"assistant_id": "agent", "command": {"goto": [5]}}, "goto"),
    ],
)
def test_what_schemathesis_found_is_a_422_that_names_the_problem(
    stack: Stack, method: str, path: str, body: Any, detail: str
) -> None:
    response = httpx.request(method, f"{stack.api_url}{path}", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()["detail"]
    assert isinstance(problem, str) and detail in problem, problem
    assert "psycopg" not in problem and "interval" not in problem, problem


def test_a_store_filter_with_operators_still_finds_items(stack: Stack) -> None:
    namespace = ["schemathesis", uuid.uuid4().hex]
    for key, rank in (("low", 1), ("high", 5)):
        item = {"namespace": namespace, "key": key, "value": {"rank": rank}}
        assert httpx.put(f"{stack.api_url}/store/items", json=item).status_code == 204
    search = {"namespace_prefix": namespace, "filter": {"rank": {"$gt": 3, "$ne": 4}}}
    found = httpx.post(f"{stack.api_url}/store/items/search", json=search)
    assert found.status_code == 200, found.text
    assert [item["key"] for item in found.json()["items"]] == ["high"]


async def test_a_cron_patched_with_enabled_null_keeps_its_state(sdk: Any) -> None:
    """``null`` is "not given", as everywhere in the API (it was written to a NOT NULL column:
    a 500)."""
    thread = await sdk.threads.create()
    cron = await sdk.crons.create_for_thread(thread["thread_id"], "agent", schedule="0 0 1 1 *")
    try:
        patched = await sdk.http.patch(
            f"/runs/crons/{cron['cron_id']}",
            json={"enabled": None, "end_time": "2999-01-01T00:00:00Z"},
        )
        assert patched["enabled"] is True
        assert patched["end_time"].startswith("2999-01-01")
    finally:
        await sdk.crons.delete(cron["cron_id"])
