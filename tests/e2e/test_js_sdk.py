"""The official JS SDK (``@langchain/langgraph-sdk``) works unchanged, as agent-chat-ui uses it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from agentlist.launcher import Stack

SMOKE = Path(__file__).resolve().parents[1] / "js" / "smoke.mjs"


def test_js_sdk_streams_and_rejoins_with_last_event_id_minus_one(stack: Stack) -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed for the JS SDK test"
    assert (SMOKE.parent / "node_modules" / "@langchain" / "langgraph-sdk").is_dir(), (
        "run `npm ci --prefix tests/js` (the README's set-up does)"
    )
    finished = subprocess.run(
        [node, str(SMOKE)],
        env={**os.environ, "AGENTLIST_API_URL": stack.api_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True and summary["tokens"] == "echo: hi from js"
