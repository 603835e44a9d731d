"""Helpers for comparing migemu's QMP traffic with QEMU's.

migemu must answer every QMP input exactly as QEMU 7.2 does, except for the things that
legitimately differ between two processes and two builds: event timestamps and version
strings. ``normalise`` replaces exactly those with placeholders (after checking their shape),
so two transcripts can be compared with ``==``::

    assert normalise(migemu_responses) == normalise(qemu_responses)

``exchange`` drives a raw conversation (bytes in, responses out) for protocol tests.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence, Union

from qmp import Message, QMPClient

TIMESTAMP = "<timestamp>"
PACKAGE = "<package>"
MICRO = "<micro>"


def _is_timestamp(value: object) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"seconds", "microseconds"}
        and all(type(v) is int for v in value.values())
        and value["seconds"] >= 0
        and 0 <= value["microseconds"] <= 999999
    )


def _is_version_info(value: Dict[str, Any]) -> bool:
    qemu = value.get("qemu")
    return (
        set(value) == {"qemu", "package"}
        and isinstance(value["package"], str)
        and isinstance(qemu, dict)
        and set(qemu) == {"major", "minor", "micro"}
        and all(type(v) is int for v in qemu.values())
    )


def normalise(value: Any) -> Any:
    """Returns a copy of ``value`` (a QMP message, or any JSON structure of them) with
    well-formed event timestamps replaced by "<timestamp>", and in every VersionInfo (the
    greeting's and query-version's) the package string and the micro version replaced by
    placeholders. Malformed timestamps and version objects are left alone, so a comparison
    shows them."""
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {key: normalise(v) for key, v in value.items()}
    if "timestamp" in value and _is_timestamp(value["timestamp"]):
        out["timestamp"] = TIMESTAMP
    if _is_version_info(value):
        out["package"] = PACKAGE
        out["qemu"] = {**value["qemu"], "micro": MICRO}
    return out


def canonical(value: Any) -> str:
    """JSON text that tells apart values Python considers equal (True vs 1, 1 vs 1.0)."""
    return json.dumps(value, sort_keys=True)


def exchange(client: QMPClient, data: Union[bytes, str], responses: int) -> List[Message]:
    """Sends ``data`` in one write and returns the next ``responses`` responses (events are
    left in the client's queue). Raises QMPTimeoutError if fewer arrive."""
    client.send_raw(data)
    return [client.read_response(what=f"response {i + 1} of {responses}") for i in range(responses)]


def error(error_class: str, desc: str, **extra: Any) -> Message:
    """The response QMP sends for an error (``id=...`` adds the echoed id)."""
    return {**extra, "error": {"class": error_class, "desc": desc}}


def generic(desc: str, **extra: Any) -> Message:
    return error("GenericError", desc, **extra)


def ok(value: Any = None, **extra: Any) -> Message:
    """The response for a success (``{}`` when no value is given)."""
    return {**extra, "return": {} if value is None else value}


def event_names(events: Sequence[Message]) -> List[str]:
    return [str(e.get("event")) for e in events]
