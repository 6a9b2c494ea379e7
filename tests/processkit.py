"""The processes a test started, as /proc shows them: who descends from whom, and whether
one is still the same program (not a zombie, not a reused pid)."""

from __future__ import annotations

from pathlib import Path


def process_table() -> dict[int, tuple[int, str]]:
    """``pid -> (parent pid, state)`` of every process, from /proc."""
    table: dict[int, tuple[int, str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return table


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, with its command line."""
    table = process_table()
    found: dict[int, str] = {}
    frontier = {pid}
    while frontier:
        frontier = {c for c, (parent, _) in table.items() if parent in frontier} - found.keys()
        found.update((child, cmdline(child)) for child in frontier)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def still_running(pid: int, command: str) -> bool:
    """The same program is still alive (not a zombie, not a reused pid)."""
    state = process_table().get(pid)
    return state is not None and state[1] != "Z" and cmdline(pid) == command
