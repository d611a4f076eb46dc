"""What ``connect``'s link declares upstream for a local client, known without the SDK.

The link's SDK client is made with ``relay.LocalPeer``'s callbacks for what the local client
declared in its ``initialize`` (elicitation, sampling, roots), and the SDK client declares one
capability for each callback given (``ClientSession._build_capabilities``): roots always with
``listChanged``, elicitation with both modes, sampling as the local client's own (the SDK's
model of it: only ``context`` and ``tools``, each an empty object).  The early session
(``bridge/earlycall.py``) declares the same, so the remote sees one client on both paths.

``upstream`` gives that declaration from the local client's raw capabilities, or None where this
does not prove the SDK's reading of them (a value of another type, a sub-object it may refuse):
then the early path stays off.  tests/bridge/test_earlycaps.py holds it to the SDK's.
SDK-free.
"""

from __future__ import annotations

from typing import Any

RELAYED = ("sampling", "elicitation", "roots")  # the SDK's ``ClientCapabilities`` field order


def upstream(local: Any) -> dict[str, Any] | None:
    """The capabilities the link's SDK client declares for a local client that declared
    ``local``, as the SDK dumps them (``by_alias``, ``exclude_none``); None: not proven."""
    if not isinstance(local, dict):
        return None
    declared: dict[str, Any] = {}
    for name in RELAYED:
        value = local.get(name)
        if value is None:
            continue  # absent or null: the SDK's model reads it as not declared
        if not isinstance(value, dict):
            return None
        shape = _declared(name, value)
        if shape is None:
            return None
        declared[name] = shape
    return declared


def _declared(name: str, value: dict[str, Any]) -> dict[str, Any] | None:
    if name == "roots":
        changed = value.get("listChanged")
        return {"listChanged": True} if changed is None or isinstance(changed, bool) else None
    parts = ("form", "url") if name == "elicitation" else ("context", "tools")
    if not all(value.get(part) is None or value.get(part) == {} for part in parts):
        return None  # a sub-object with fields: left to the SDK
    if name == "elicitation":
        return {"form": {}, "url": {}}
    return {part: {} for part in parts if value.get(part) == {}}
