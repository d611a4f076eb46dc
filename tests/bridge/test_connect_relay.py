"""What a remote asks the person, through the real ``connect`` process: ping, elicitation in form
and URL mode, sampling and roots from the remote (``remote_mcp.py``'s ``ask`` tool, sent while its
call is open) reach the local client unchanged and its answers go back; a local client that
declared none of those capabilities gets the spec's error back at the remote, not a hang."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path

import anyio
import pytest
from local_client import Person, connect_params
from mcp import Client, types
from test_connect import remote, text

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


def asking_remote(tmp: Path) -> AbstractContextManager[str]:
    """The remote without OAuth, of the 2025 spec (the 2026-07-28 one has no server-to-client
    requests outside a tool's input-required result, and no ping), with its ``ask`` tool."""
    return remote("none", tmp, REMOTE_ASK_TOOLS="1", REMOTE_LEGACY_ERA="1")


async def ask(client: Client, what: str) -> str:
    with anyio.fail_after(60):  # bounded: a relay that hangs fails here
        result = await client.call_tool("ask", {"what": what})
    assert not result.is_error, text(result)
    return text(result)


async def test_the_remote_asks_and_the_local_client_answers(tmp_path: Path) -> None:
    person = Person(form={"name": "Ada"}, sampled="4")
    with asking_remote(tmp_path) as url:
        async with Client(
            connect_params(url, tmp_path / "home"),
            mode="legacy",
            read_timeout_seconds=60,
            elicitation_callback=person.elicit,
            sampling_callback=person.sample,
            list_roots_callback=person.roots,
        ) as client:
            assert await ask(client, "ping") == "ok {}"
            form = await ask(client, "form")
            url_mode = await ask(client, "url")
            sampled = await ask(client, "sample")
            roots = await ask(client, "roots")
    assert json.loads(form.removeprefix("ok ")) == {"action": "accept", "content": {"name": "Ada"}}
    assert json.loads(url_mode.removeprefix("ok ")) == {"action": "accept"}
    assert json.loads(sampled.removeprefix("ok "))["content"] == {"type": "text", "text": "4"}
    assert json.loads(sampled.removeprefix("ok "))["model"] == "local-model"
    assert json.loads(roots.removeprefix("ok "))["roots"] == [
        {"uri": "file:///home/ada/notes", "name": "notes"}
    ]
    form_asked, url_asked, sample_asked, roots_asked = person.asked
    assert isinstance(form_asked, types.ElicitRequestFormParams)
    assert form_asked.message == "Your name?"
    assert form_asked.requested_schema == {"type": "object", "properties": {"name": {"type": "string"}}}
    assert isinstance(url_asked, types.ElicitRequestURLParams)
    assert (url_asked.url, url_asked.elicitation_id) == ("https://example.com/connect?x=1", "el-7")
    assert isinstance(sample_asked, types.CreateMessageRequestParams)
    assert sample_asked.max_tokens == 5
    assert roots_asked == "roots"


async def test_a_local_client_without_the_capabilities_gets_errors_not_a_hang(tmp_path: Path) -> None:
    """No elicitation, sampling or roots declared: connect declares none upstream either, and each
    such request from the remote is answered with a JSON-RPC error at once; ping still answers."""
    with asking_remote(tmp_path) as url:
        async with Client(
            connect_params(url, tmp_path / "home"), mode="legacy", read_timeout_seconds=60
        ) as client:
            assert await ask(client, "ping") == "ok {}"
            answers = {what: await ask(client, what) for what in ("form", "url", "sample", "roots")}
    for what, answer in answers.items():
        assert answer.startswith("error "), (what, answer)
        code = int(answer.split()[1])
        assert code in (types.INVALID_REQUEST, types.METHOD_NOT_FOUND), (what, answer)
