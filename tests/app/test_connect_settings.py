"""``connect`` has its own settings object, set by its own options; the VERTEXSMS_* names still work."""

from __future__ import annotations

import pytest

from vertex_stdio.app.arguments import build_parser, settings_from
from vertex_stdio.app.connect import connect_settings
from vertex_stdio.bridge.servers import advice_for, resolve
from vertex_stdio.bridge.settings import ConnectSettings
from vertex_stdio.core.errors import ConfigError

URL = "https://mcp.example.com/mcp"


def _settings(*argv: str, env: dict[str, str] | None = None) -> ConnectSettings:
    args = build_parser().parse_args(["connect", URL, *argv])
    return connect_settings(settings_from(args, env or {}))


def test_connect_takes_its_settings_as_its_own_options() -> None:
    given = _settings("--allow-file-store", "--callback-port", "8123", "--signin-timeout", "45")
    assert given == ConnectSettings(allow_file_store=True, callback_port=8123, signin_timeout=45.0)
    assert _settings() == ConnectSettings()


def test_the_documented_variables_still_set_them_and_options_win() -> None:
    env = {
        "VERTEXSMS_ALLOW_FILE_STORE": "1",
        "VERTEXSMS_CALLBACK_PORT": "8200",
        "VERTEXSMS_SIGNIN_TIMEOUT": "60",
        "VERTEXSMS_HTTP_TIMEOUT": "12",
    }
    assert _settings(env=env) == ConnectSettings(True, 8200, 60.0, 12.0)
    assert _settings("--callback-port", "9000", env=env).callback_port == 9000


def test_the_old_place_before_the_command_still_works() -> None:
    args = build_parser().parse_args(["--allow-file-store", "connect", URL])
    assert connect_settings(settings_from(args, {})).allow_file_store


@pytest.mark.parametrize("port", [-1, 70000])
def test_a_port_out_of_range_is_refused_by_its_option_name(port: int) -> None:
    with pytest.raises(ConfigError, match="--callback-port"):
        ConnectSettings(callback_port=port)


def test_connect_advice_speaks_of_its_options_not_of_vertexsms_variables() -> None:
    advice = advice_for(resolve(URL, "vocci"))
    assert "--allow-file-store" in advice.keyring_too_small
    assert "vertex-stdio login --server vocci" in advice.keyring_too_small
    assert advice.allow_file_store.startswith("run `")
    assert "login --server vocci --allow-file-store`" in advice.allow_file_store
    assert "--allow-file-store" in advice.allow_file_store_in_client
    assert advice.choose_callback_port == "pass --callback-port with a free port"
    words = " ".join(value for value in vars(advice).values() if isinstance(value, str))
    assert "VERTEXSMS" not in words


def test_vertexsms_advice_keeps_its_variables() -> None:
    from vertex_stdio.vertexsms.signin import vertexsms_advice

    advice = vertexsms_advice()

    assert advice.allow_file_store == "set VERTEXSMS_ALLOW_FILE_STORE=1"
    assert advice.allow_file_store_in_client == (
        "set VERTEXSMS_ALLOW_FILE_STORE=1 in the MCP server's environment too (your client's config)"
    )
    assert advice.choose_callback_port == "set VERTEXSMS_CALLBACK_PORT to a free port"
