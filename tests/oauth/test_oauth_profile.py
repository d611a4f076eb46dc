"""The sign-in core is told about its server by a ``SignInProfile``; it names no server itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from oauth_server.helpers import bind_browser

from vertex_stdio.oauth.io.receiver import Receiver
from vertex_stdio.oauth.profile import Advice, SignInProfile
from vertex_stdio.oauth.storage.secrets import FileSecrets
from vertex_stdio.oauth.storage.store import TokenStore

OAUTH_DIR = Path(__file__).resolve().parents[2] / "src" / "vertex_stdio" / "oauth"

OTHER = SignInProfile(
    resource_url="https://mcp.other.example/mcp",
    display_name="Other <Notes>",
    client_name="vertex-stdio (other)",
    advice=Advice(
        sign_in="Run `vertex-stdio login --server other`.",
        file_store_setting="OTHER_FILE_STORE",
        callback_port_setting="OTHER_PORT",
        login_command="vertex-stdio login --server other",
    ),
    allow_file_store=True,
    namespace="mcp.other.example-1234",
)


def test_no_module_of_the_core_names_vertexsms() -> None:
    """Links, settings and wording come from the caller: no VertexSMS name or Settings in oauth/."""
    for path in sorted(OAUTH_DIR.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "VERTEXSMS" not in text, path.name
        assert "VertexSMS" not in text, path.name
        assert "import Settings" not in text, path.name


@pytest.fixture
def fail_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_a_namespaced_profile_keeps_its_own_folder(fail_keyring: None, tmp_path: Path) -> None:
    """Each server's state and opt-in secret file live in its own folder, and warnings use its setting."""
    store = TokenStore.default(OTHER, state_dir=tmp_path)
    assert store.state_dir == tmp_path / "servers" / "mcp.other.example-1234"
    assert isinstance(store.secrets, FileSecrets)
    assert str(store.state_dir) in store.secrets.label
    assert store.warning is not None
    assert "OTHER_FILE_STORE" in store.warning


async def _get(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


@pytest.mark.anyio
async def test_the_callback_page_names_the_callers_server() -> None:
    """The success page says which server the person signed in to (escaped), not a fixed name."""
    receiver = Receiver("st", name=OTHER.display_name, login=OTHER.advice.login_command)
    await receiver.start()
    port = int(receiver.redirect_uri.split(":")[2].split("/")[0])
    try:
        cookie = await bind_browser(receiver)
        waiting = asyncio.create_task(receiver.wait())
        page = asyncio.create_task(
            _get(
                port,
                f"GET /callback?state=st&code=c HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
                + cookie
                + b"\r\n",
            )
        )
        await asyncio.wait_for(waiting, 5)
        receiver.finish("success")
        body = await page
    finally:
        await receiver.aclose()
    assert b"Signed in to Other &lt;Notes&gt;" in body
    assert b"VertexSMS" not in body
