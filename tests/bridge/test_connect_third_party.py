"""``connect`` against third-party MCP servers it was never written for, installed from npm
(``tests/support/third_party``, pinned), through the real process driven by the MCP SDK client:
``@modelcontextprotocol/server-everything`` over Streamable HTTP without OAuth, and the
TypeScript SDK's example server with its demo OAuth provider."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import anyio
import pytest
from local_client import Person, connect_params
from mcp import Client, types
from mcp.shared.exceptions import MCPDeprecationWarning
from test_connect import _env, text
from third_party_servers import everything_server, sdk_example, sdk_oauth_server, third_party_ready

pytest_plugins = ["oauth_server.fixtures"]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.anyio,
    pytest.mark.skipif(third_party_ready() is not None, reason=str(third_party_ready())),
]


async def test_the_everything_server_is_bridged_without_a_sign_in(tmp_path: Path) -> None:
    """Tools, a call, resources, prompts, progress, and the remote's sampling, elicitation and
    roots requests relayed to the local client; no sign-in, no ``sign_in`` tool."""
    person = Person(form={"name": "Ada Lovelace", "check": True}, sampled="forty-two")
    progress: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, _message: str | None) -> None:
        progress.append((done, total))

    logged: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logged.append(params)

    with everything_server(tmp_path) as url:
        async with Client(
            connect_params(url, tmp_path / "home"),
            mode="legacy",
            read_timeout_seconds=60,
            elicitation_callback=person.elicit,
            sampling_callback=person.sample,
            list_roots_callback=person.roots,
            logging_callback=on_log,
        ) as client:
            with anyio.fail_after(120):
                names = {tool.name for tool in (await client.list_tools()).tools}
                echoed = await client.call_tool("echo", {"message": "hello from vertex-stdio"})
                summed = await client.call_tool("get-sum", {"a": 2, "b": 40})
                resources = (await client.list_resources()).resources
                read = await client.read_resource(resources[0].uri)
                prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
                prompt = await client.get_prompt("simple-prompt", {})
                long = await client.call_tool(
                    "trigger-long-running-operation",
                    {"duration": 1, "steps": 3},
                    progress_callback=on_progress,
                )
                sampled = await client.call_tool("trigger-sampling-request", {"prompt": "six times seven?"})
                elicited = await client.call_tool("trigger-elicitation-request", {})
                rooted = await client.call_tool("get-roots-list", {})
                with pytest.warns(MCPDeprecationWarning):  # deprecated in 2026-07-28; this remote is 2025
                    await client.set_logging_level("debug")
                toggled = await client.call_tool("toggle-simulated-logging", {})
                while len([entry for entry in logged if "level message" in str(entry.data).lower()]) < 2:
                    await anyio.sleep(0.2)  # one at once, then one every 5 s (bounded above)
    assert "sign_in" not in names
    assert {"echo", "get-sum", "trigger-long-running-operation"} <= names
    # What the remote registers only for a client that declared sampling, elicitation and roots:
    # connect declared upstream what the local client declared.
    assert {"trigger-sampling-request", "trigger-elicitation-request", "get-roots-list"} <= names
    assert not echoed.is_error
    assert text(echoed) == "Echo: hello from vertex-stdio"
    assert not summed.is_error
    assert "42" in text(summed)
    assert read.contents
    assert read.contents[0].uri == resources[0].uri
    assert "simple-prompt" in prompts
    assert prompt.messages
    assert not long.is_error
    assert "Steps: 3" in text(long)
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert not sampled.is_error
    assert "forty-two" in text(sampled)
    assert "local-model" in text(sampled)
    assert not elicited.is_error
    assert "Ada Lovelace" in text(elicited)
    assert not rooted.is_error
    assert "file:///home/ada/notes" in text(rooted)
    sample_asked = next(a for a in person.asked if isinstance(a, types.CreateMessageRequestParams))
    assert "six times seven?" in json.dumps(sample_asked.model_dump(mode="json"))
    assert any(isinstance(a, types.ElicitRequestFormParams) for a in person.asked)
    assert "roots" in person.asked
    assert not toggled.is_error
    simulated = [entry for entry in logged if "level message" in str(entry.data).lower()]
    assert {entry.level for entry in simulated} <= set(typing.get_args(types.LoggingLevel))
    assert not list((tmp_path / "home").rglob("*token*"))


async def test_the_everything_server_over_the_2024_sse_transport(tmp_path: Path) -> None:
    """Its legacy HTTP+SSE mode refuses the Streamable HTTP POST: connect falls back to the
    2024-11-05 transport and serves it the same (a call, progress, a sampling request answered)."""
    person = Person(form={"name": "Ada Lovelace", "check": True}, sampled="forty-two")
    progress: list[float] = []

    async def on_progress(done: float, _total: float | None, _message: str | None) -> None:
        progress.append(done)

    with everything_server(tmp_path, "sse") as url:
        async with Client(
            connect_params(url, tmp_path / "home"),
            mode="legacy",
            read_timeout_seconds=60,
            sampling_callback=person.sample,
        ) as client:
            with anyio.fail_after(120):
                names = {tool.name for tool in (await client.list_tools()).tools}
                echoed = await client.call_tool("echo", {"message": "over sse"})
                long = await client.call_tool(
                    "trigger-long-running-operation",
                    {"duration": 1, "steps": 2},
                    progress_callback=on_progress,
                )
                sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hello"})
    assert "sign_in" not in names
    assert text(echoed) == "Echo: over sse"
    assert not long.is_error
    assert progress == [1, 2]
    assert "forty-two" in text(sampled)
    assert "trigger-elicitation-request" not in names  # not declared by this client, so not offered


async def test_a_stream_the_server_closes_mid_call_is_resumed(tmp_path: Path) -> None:
    """The SDK's ``ssePollingExample`` (SEP-1699): while ``long-task`` runs, the server closes the
    call's event stream (with ``retry``) and goes on; connect reconnects with ``Last-Event-ID`` and
    gets the rest: every log message, those sent while it was away too, and the result."""
    logged: list[object] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logged.append(params.data)

    with sdk_example(tmp_path, "ssePollingExample") as url:
        async with Client(
            connect_params(url, tmp_path / "home"),
            mode="legacy",
            read_timeout_seconds=60,
            logging_callback=on_log,
        ) as client:
            with anyio.fail_after(60):
                done = await client.call_tool("long-task", {})
                while len(logged) < 4:
                    await anyio.sleep(0.1)
    assert text(done) == "Long task completed successfully!"
    assert [str(data).split(" - ")[0] for data in logged] == [f"Progress: {n}%" for n in (25, 50, 75, 100)]
    assert "Closing SSE stream" in (tmp_path / "ssePollingExample.log").read_text()


async def test_a_server_answering_json_not_event_streams(tmp_path: Path) -> None:
    """The SDK's ``jsonResponseStreamableHttp`` answers each POST with one JSON body."""
    with sdk_example(tmp_path, "jsonResponseStreamableHttp") as url:
        async with Client(
            connect_params(url, tmp_path / "home"), mode="legacy", read_timeout_seconds=60
        ) as client:
            with anyio.fail_after(60):
                names = {tool.name for tool in (await client.list_tools()).tools}
                greeted = await client.call_tool("greet", {"name": "Ada"})
    assert names == {"greet", "multi-greet"}
    assert text(greeted) == "Hello, Ada!"


async def test_the_sdk_example_server_signs_in_then_starts_offline_from_the_cache(
    browser: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TypeScript SDK's example server with ``--oauth --oauth-strict`` (its demo authorization
    server on a second port: dynamic registration, PKCE, RFC 8707 ``resource`` checked): the first
    process offers ``sign_in``, signs in through the browser and calls ``greet``; a second process
    calls it with the kept sign-in (no browser); with the server stopped, a third starts from the
    cache and lists the tools offline."""
    opens = tmp_path / "opens.log"
    monkeypatch.setenv("TEST_BROWSER_OPENS", str(opens))
    home = tmp_path / "home"
    person = Person(form={"name": "Ada Lovelace", "check": True}, sampled="forty-two")
    with sdk_oauth_server(tmp_path) as url:
        async with Client(
            connect_params(url, home, _env(home, browser)),
            mode="legacy",
            read_timeout_seconds=60,
            elicitation_callback=person.elicit,
        ) as first:
            with anyio.fail_after(120):
                offered = {tool.name for tool in (await first.list_tools()).tools}
                signed = await first.call_tool("sign_in", {})
                greeted = await first.call_tool("greet", {"name": "Ada"})
                collected = await first.call_tool("collect-user-info", {"infoType": "contact"})
                tools = {tool.name for tool in (await first.list_tools()).tools}
        assert offered == {"sign_in"}
        assert not signed.is_error, text(signed)
        assert not greeted.is_error, text(greeted)
        assert "Hello, Ada!" in text(greeted)
        assert {"greet", "multi-greet"} <= tools
        assert "Ada Lovelace" in text(collected)  # its elicitation, answered by the local client
        assert opens.read_text().count("opened") == 1
        async with Client(
            connect_params(url, home, _env(home, browser)), mode="legacy", read_timeout_seconds=60
        ) as second:
            with anyio.fail_after(60):
                again = await second.call_tool("greet", {"name": "Grace"})
        assert not again.is_error, text(again)
        assert "Hello, Grace!" in text(again)
        assert opens.read_text().count("opened") == 1  # the kept sign-in, no browser
    async with Client(
        connect_params(url, home, _env(home, browser)), mode="legacy", read_timeout_seconds=60
    ) as offline:
        with anyio.fail_after(60):
            cached = {tool.name for tool in (await offline.list_tools()).tools}
            down = await offline.call_tool("greet", {"name": "Ada"})
    assert cached == tools
    assert down.is_error
    assert json.loads(text(down))["error"]["code"] == "UPSTREAM_UNAVAILABLE", text(down)
    assert opens.read_text().count("opened") == 1
