"""The client the MCP conformance suite drives: a stdio MCP client in front of ``vertex-stdio connect URL``.

The suite (``conformance client --command "python driver.py"``) starts a scenario's server, then
runs this script with the server's URL, ``MCP_CONFORMANCE_SCENARIO`` and, for scenarios that need
it, ``MCP_CONFORMANCE_CONTEXT`` (credentials handed to the person, as JSON).  This script does what a
person's desktop client does, generic over scenarios:

- starts the real ``vertex-stdio connect URL`` process with the options a user would pass for that
  kind of server (:func:`connect_command`: a pre-registered client id with its secret in an
  environment variable, a key file, a client metadata URL), in a throw-away home, with the scripted
  browser (tests/support/oauth_server/browser.py) consenting to any sign-in page;
- initializes with the capabilities a full client has (elicitation form and URL, sampling, roots);
- lists the tools; when the bridge offers only ``sign_in`` (a first run), calls it and lists again;
- calls every tool the remote offers, with arguments built from its input schema;
- answers the remote's elicitations as a person accepting the form as shown (its defaults filled
  in), sampling requests with a short text, roots with none.

It exits 0 when every step answered, 1 otherwise, printing what happened on stderr (the suite keeps
it in the scenario's ``stderr.txt``).  The suite's checks, not this exit code, decide the result.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters, types
from mcp.client.session import ClientRequestContext

HERE = Path(__file__).resolve().parent
BROWSER = HERE.parent / "oauth_server" / "browser.py"
SRC = HERE.parents[2] / "src"
SECRET_VARIABLE = "CONFORMANCE_CLIENT_SECRET"
CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"


def connect_command(url: str, context: dict[str, Any], home: Path) -> tuple[list[str], dict[str, str]]:
    """The command line and extra environment a user would give ``connect`` for this server."""
    args = ["connect", url, "--name", "conformance"]
    env: dict[str, str] = {}
    if context.get("client_id"):
        args += ["--client-id", str(context["client_id"])]
    if context.get("client_secret"):
        env[SECRET_VARIABLE] = str(context["client_secret"])
        args += ["--client-secret-env", SECRET_VARIABLE]
    if context.get("private_key_pem"):
        key = home / "client-key.pem"
        key.write_text(str(context["private_key_pem"]))
        key.chmod(0o600)
        args += ["--private-key", str(key)]
    if str(context.get("name", "")).startswith("auth/client-credentials"):
        args += ["--client-credentials"]
    if context.get("idp_id_token"):
        env["CONFORMANCE_IDP_ID_TOKEN"] = str(context["idp_id_token"])
        args += [
            "--idp-token-endpoint",
            str(context["idp_token_endpoint"]),
            "--idp-client-id",
            str(context["idp_client_id"]),
            "--idp-id-token-env",
            "CONFORMANCE_IDP_ID_TOKEN",
        ]
    if not context:
        args += ["--client-metadata-url", CLIENT_METADATA_URL]
    return args, env


def environment(home: Path, extra: dict[str, str]) -> dict[str, str]:
    """An isolated environment for the ``connect`` process: its own home, file store, scripted browser."""
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "VERTEXSMS_LOG_DIR": str(home / "logs"),
        "VERTEXSMS_LOG_LEVEL": os.environ.get("VERTEXSMS_LOG_LEVEL", "INFO"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "VERTEXSMS_ALLOW_FILE_STORE": "1",
        "VERTEXSMS_SIGNIN_TIMEOUT": "20",
        "VERTEXSMS_HTTP_TIMEOUT": "10",
        "BROWSER": f"{sys.executable} {BROWSER} %s",
        "TEST_BROWSER_MODE": "consent",
        "TEST_BROWSER_LOG": str(home / "browser.log"),
        "PYTHONPATH": str(SRC),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def value_for(schema: dict[str, Any]) -> Any:
    """A value a person would type for one property: its default, else the first choice, else a sample."""
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    samples: dict[str, Any] = {"number": 2, "integer": 3, "boolean": True, "array": [], "object": {}}
    return samples.get(str(kind), "conformance")


def arguments_for(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments for a tool: every property of its input schema, as a person would fill them."""
    properties = schema.get("properties") or {}
    return {name: value_for(prop) for name, prop in properties.items() if isinstance(prop, dict)}


async def on_elicit(_: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
    """Accept the form as shown: every field with its default (a URL elicitation is acknowledged)."""
    say(f"elicitation: {params.model_dump(exclude_none=True)}")
    schema = getattr(params, "requested_schema", None)
    if schema is None:
        return types.ElicitResult(action="accept")
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    content = {name: prop["default"] for name, prop in properties.items() if "default" in prop}
    return types.ElicitResult(action="accept", content=content)


async def on_sample(
    _: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    say(f"sampling: {len(params.messages)} message(s)")
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text="conformance"), model="conformance"
    )


async def on_roots(_: ClientRequestContext) -> types.ListRootsResult:
    return types.ListRootsResult(roots=[])


def say(line: str) -> None:
    print(f"driver: {line}", file=sys.stderr, flush=True)  # noqa: T201 - the suite keeps stderr per scenario


async def drive(url: str, context: dict[str, Any], home: Path) -> None:
    """One session through ``connect``: initialize, list, sign in if offered, call every tool."""
    args, extra = connect_command(url, context, home)
    say(f"starting vertex-stdio {' '.join(args)}")
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "vertex_stdio", *args], env=environment(home, extra)
    )
    client = Client(
        params,
        mode="legacy",
        read_timeout_seconds=60,
        client_info=types.Implementation(name="conformance-driver", version="1.0.0"),
        elicitation_callback=on_elicit,
        sampling_callback=on_sample,
        list_roots_callback=on_roots,
    )
    async with client:
        tools = (await client.list_tools()).tools
        say(f"tools: {[tool.name for tool in tools]}")
        if [tool.name for tool in tools] == ["sign_in"]:
            result = await client.call_tool("sign_in", {})
            say(f"sign_in: error={result.is_error} {text(result)}")
            tools = (await client.list_tools()).tools
            say(f"tools after sign-in: {[tool.name for tool in tools]}")
        for tool in tools:
            if tool.name == "sign_in":
                continue
            result = await client.call_tool(tool.name, arguments_for(tool.input_schema))
            say(f"call {tool.name}: error={result.is_error} {text(result)[:500]}")


def text(result: types.CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, types.TextContent))


def main() -> int:
    url = sys.argv[1]
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    say(f"scenario {os.environ.get('MCP_CONFORMANCE_SCENARIO')} at {url}")
    home = Path(tempfile.mkdtemp(prefix="conformance-"))
    try:
        anyio.run(drive, url, context, home)
    except Exception as exc:  # noqa: BLE001 - reported for the scenario's stderr.txt
        say(f"failed: {exc!r}")
        return 1
    finally:
        log_dir = home / "logs"
        for log in sorted(log_dir.glob("*")) if log_dir.is_dir() else []:
            say(f"--- {log.name} ---\n{log.read_text(errors='replace')[-6000:]}")
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
