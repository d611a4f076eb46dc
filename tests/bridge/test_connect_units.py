"""``connect``'s pure parts: naming servers, the offer cache, the setup entry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import process_env
from vertex_stdio.bridge import signin_tool
from vertex_stdio.bridge.offer import Offer, OfferCache
from vertex_stdio.bridge.servers import RemoteServer, profile_for, remember, resolve
from vertex_stdio.bridge.wire import capabilities, outgoing
from vertex_stdio.core.errors import AuthRequired, ConfigError, NotFound

VOCCI = "https://mcp.vocci.ai/mcp"


def test_a_server_is_named_by_its_url_or_the_name_it_was_given(tmp_path: Path) -> None:
    """A URL names itself (its host by default); a remembered name or host finds the URL again."""
    server = resolve(VOCCI, "vocci", tmp_path)
    assert (server.url, server.name, server.host) == (VOCCI, "vocci", "mcp.vocci.ai")
    remember(server, tmp_path)
    assert resolve("vocci", base=tmp_path) == server
    assert resolve("mcp.vocci.ai", base=tmp_path) == server
    assert resolve(VOCCI, base=tmp_path).name == "mcp.vocci.ai"
    with pytest.raises(ConfigError, match="vocci"):
        resolve("nobody", base=tmp_path)
    with pytest.raises(ConfigError, match="https"):
        resolve("http://mcp.vocci.ai/mcp", base=tmp_path)


def test_each_server_signs_in_in_its_own_namespace(tmp_path: Path) -> None:
    """Two servers: two folders, their hosts as the names people see, no VertexSMS words."""
    one = profile_for(resolve(VOCCI, base=tmp_path))
    two = profile_for(resolve("https://mcp.example.com/mcp", base=tmp_path), client_id="pre")
    assert one.namespace != two.namespace
    assert one.display_name == "mcp.vocci.ai"
    assert two.client_id == "pre"
    assert "VERTEXSMS_API_TOKEN" not in json.dumps(one.advice.__dict__)
    assert "--server mcp.vocci.ai" in one.advice.login_command


def test_the_offer_cache_round_trips_and_survives_damage(tmp_path: Path) -> None:
    """What the remote wrote comes back unchanged; a damaged file reads as no cache."""
    tool = {
        "name": "search",
        "inputSchema": {"type": "object"},
        "_meta": {"x": 1},
        "annotations": {"readOnlyHint": True},
    }
    offer = Offer({"tools": {}}, {"name": "vocci", "version": "1"}, "Use search.", {"tools": [tool]}, 1.0)
    cache = OfferCache(tmp_path)
    cache.save(offer)
    assert cache.load() == offer
    assert offer.changed(cache.load()) == []
    assert offer.with_list("tools", []).changed(offer) == ["tools"]
    cache.path.write_text("{not json")
    assert cache.load() is None


def test_capabilities_announce_list_changes_and_params_drop_our_meta() -> None:
    """Lists we refresh say listChanged; the local progress token and era keys stay local."""
    caps = capabilities({"tools": {}, "prompts": {"listChanged": False}, "completions": {}})
    assert caps.tools is not None
    assert caps.tools.list_changed is True
    assert caps.prompts is not None
    assert caps.prompts.list_changed is True
    sent = outgoing({"name": "t", "_meta": {"progressToken": 7, "io.modelcontextprotocol/x": 1, "app/k": 2}})
    assert sent == {"name": "t", "_meta": {"app/k": 2}}


@pytest.mark.slow
def test_setup_writes_a_connect_entry(tmp_path: Path) -> None:
    """``setup cursor --connect URL --name vocci`` prints an entry that runs ``connect URL --name vocci``."""
    args = ["setup", "cursor", "--connect", VOCCI, "--name", "vocci", "--allow-file-store"]
    done = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", *args],
        env=process_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["vocci"]
    assert entry["args"][-4:] == ["connect", VOCCI, "--name", "vocci"]
    assert entry["env"] == {"VERTEXSMS_ALLOW_FILE_STORE": "1"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "url", ["http://example.com/client.json", "https://example.com", "https://example.com/", "client.json"]
)
def test_a_client_metadata_url_must_be_https_with_a_path(tmp_path: Path, url: str) -> None:
    """``--client-metadata-url`` that cannot be a client ID metadata document is a usage error, before serving."""
    done = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "connect", VOCCI, "--client-metadata-url", url],
        env=process_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "--client-metadata-url must be an https URL with a path" in done.stderr
    assert done.stdout == ""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--client-secret-env", "APP_SECRET"], {"APP_SECRET": "s3cr3t-value"}, "needs --client-id"),
        (["--client-id", "app", "--client-secret-env", "APP_SECRET"], {}, "APP_SECRET, which is not set"),
    ],
)
def test_a_client_secret_comes_only_from_a_named_environment_variable(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    """``--client-secret-env`` names a variable; unset, or without the client id it belongs to, is a
    usage error before serving, and the secret is never echoed."""
    done = subprocess.run(
        [sys.executable, "-m", "vertex_stdio", "connect", VOCCI, *args],
        env=process_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "s3cr3t-value" not in done.stderr + done.stdout


def test_the_sign_in_answer_names_twenty_tools_and_counts_the_rest() -> None:
    """``sign_in``'s answer: every list counted; tool names clipped to 64 characters, twenty shown."""
    tools = [{"name": f"t{i}"} for i in range(23)] + [{"name": "x" * 100}]
    offer = Offer({}, {}, None).with_list("tools", tools).with_list("prompts", [{"name": "p"}])
    answer = signin_tool.signed_in("mcp.vocci.ai", offer)
    assert answer["structuredContent"] == {"tools": 24, "resources": 0, "templates": 0, "prompts": 1}
    text = answer["content"][0]["text"]
    assert text.startswith("Signed in to mcp.vocci.ai. It offers 24 tools (t0, t1,")
    assert "t19 and 4 more), 0 resources" in text
    assert "t20" not in text
    empty = signin_tool.signed_in("mcp.vocci.ai", Offer({}, {}, None))["content"][0]["text"]
    assert "It offers 0 tools (none)" in empty


def test_auth_errors_carry_this_servers_sign_in_and_other_errors_pass_as_they_are() -> None:
    """The link the sign-in gave wins over the server's URL; the advice names the remembered server."""
    remote = RemoteServer(VOCCI, "vocci")
    bare = signin_tool.worded(AuthRequired("not signed in"), remote).extra
    assert bare["signin_url"] == VOCCI
    assert bare["how_to_sign_in"].startswith("Call the sign_in tool, or run `")
    assert bare["how_to_sign_in"].endswith("login --server vocci`.")
    linked = signin_tool.worded(AuthRequired("x", authorization_url="http://127.0.0.1:9/a"), remote)
    assert linked.extra["signin_url"] == "http://127.0.0.1:9/a"
    other = NotFound("no such tool")
    assert signin_tool.worded(other, remote).envelope() == NotFound("no such tool").envelope()
