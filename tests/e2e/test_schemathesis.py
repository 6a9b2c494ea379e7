"""Schemathesis over the whole OpenAPI document of a running stack: requests generated from the
document (valid ones and, mostly, invalid ones) never get a 5xx, and every answer is what the
document says, in status, content type and shape (errors are ``{"detail": "..."}``).

Bounded in time (the fuzzing phase repeats until ``--max-time`` is spent) and seeded, so that
a run is reproducible with ``st run <api>/openapi.json --seed ...`` and the same options."""

from __future__ import annotations

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


def _schemathesis(api_url: str, reports: Path) -> tuple[subprocess.CompletedProcess[str], Any]:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{api_url}/openapi.json",
        f"--checks={','.join(CHECKS)}",
        f"--phases={PHASES}",
        f"--max-examples={EXAMPLES_PER_OPERATION}",
        f"--max-time={SECONDS}",
        f"--seed={SEED}",
        "--workers=2",
        "--request-timeout=10",
        "--report=json",
        f"--report-json-path={reports / 'report.json'}",
    ]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=SECONDS + 40, check=False, cwd=reports
    )
    report = json.loads((reports / "report.json").read_text())
    return finished, report


def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(
    stack: Stack, tmp_path: Path
) -> None:
    finished, report = _schemathesis(stack.api_url, tmp_path)
    output = finished.stdout[-6000:] + finished.stderr[-2000:]
    operations, cases = report["operations"], report["test_cases"]
    print(  # the figures, in the test's output with -s
        f"schemathesis: {operations['tested']}/{operations['total']} operations, "
        f"{cases['generated']} requests, {cases['with_failures']} failed, "
        f"{len(report['errors'])} generation errors, in {report['running_time']:.0f}s"
    )
    assert report["failures"] == [], output
    assert operations["tested"] == operations["total"] > 60, operations
    assert cases["generated"] > 10 * operations["total"], cases
    assert finished.returncode == 0 or report["errors"], output


# What schemathesis found (500s, the database's refusals escaping LangGraph's store), and their
# neighbours: each now a 422 that says what is wrong, in the API's words.
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
    ],
)
def test_values_the_store_cannot_hold_are_a_422_that_names_the_problem(
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
