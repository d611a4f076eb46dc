"""manifest.json agrees with the server, pyproject.toml and Settings; .mcpbignore keeps junk out."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from vertex_stdio import __version__
from vertex_stdio.core.credentials import NoTokenProvider
from vertex_stdio.desktop.manifest import first_sentence, manifest_tools
from vertex_stdio.vertexsms.server import build_server
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.tools.catalog import TOOL_NAMES

ROOT = Path(__file__).resolve().parents[2]
MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\$\{user_config\.([A-Za-z0-9_]+)\}")


def _as_mcpb_string(value: object) -> str:
    """How mcpb 2.1.2 turns a user_config value into an env string (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_one_version_source() -> None:
    """``vertex_stdio.__version__`` is the one version: pyproject reads it (hatch), and the
    manifest and the changelog's newest release agree with it."""
    project = PYPROJECT["project"]
    assert "version" not in project
    assert project["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/vertex_stdio/__init__.py"
    assert MANIFEST["version"] == __version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d[^\]]*)\]", changelog, flags=re.MULTILINE)
    assert "## [Unreleased]" in changelog
    assert not released or released[0] == __version__, released


def test_description_and_name_match_pyproject() -> None:
    """The manifest's description and name are pyproject's."""
    project = PYPROJECT["project"]
    assert MANIFEST["description"] == project["description"]
    assert MANIFEST["name"] == project["name"]


def test_tools_match_the_declared_tools() -> None:
    """Manifest tools are TOOLS in order, each described by its first sentence (BILLABLE-marked)."""
    assert [t["name"] for t in MANIFEST["tools"]] == list(TOOL_NAMES)
    assert MANIFEST["tools"] == manifest_tools()
    assert MANIFEST["tools_generated"] is False
    billable = {t["name"] for t in MANIFEST["tools"] if t["description"].startswith("BILLABLE: ")}
    assert billable == {"send_sms", "lookup_hlr"}


@pytest.mark.anyio
async def test_tools_match_tools_list() -> None:
    """The names a client gets from tools/list are exactly the manifest's."""
    server = build_server(Settings(), NoTokenProvider())
    async with Client(server, mode="legacy") as client:
        listed = (await client.list_tools()).tools
    assert sorted(t.name for t in listed) == sorted(t["name"] for t in MANIFEST["tools"])
    by_name = {t.name: t.description or "" for t in listed}
    for tool in MANIFEST["tools"]:
        assert tool["description"].removeprefix("BILLABLE: ") == first_sentence(by_name[tool["name"]])


def test_first_sentence_skips_abbreviations() -> None:
    """``e.g.`` inside a sentence does not end it."""
    assert first_sentence("Pick a name, e.g. ACME. Then wait.") == "Pick a name, e.g. ACME."
    assert first_sentence("No full stop") == "No full stop"


def test_server_launch_is_uv_run_frozen() -> None:
    """The bundle is launched with uv from its own directory, frozen to uv.lock, without dev deps."""
    server = MANIFEST["server"]
    assert MANIFEST["manifest_version"] == "0.4"
    assert server["type"] == "uv"
    assert (ROOT / server["entry_point"]).is_file()
    config = server["mcp_config"]
    assert config["command"] == "uv"
    assert config["args"] == ["run", "--directory", "${__dirname}", "--frozen", "--no-dev", "vertex-stdio"]
    assert PYPROJECT["project"]["scripts"]["vertex-stdio"]
    assert (ROOT / "uv.lock").is_file()


def test_every_placeholder_is_declared_optional_and_defaulted() -> None:
    """Each ${user_config.x} is declared, optional and has a default, and is passed through env only."""
    config = MANIFEST["server"]["mcp_config"]
    assert not any(PLACEHOLDER.search(arg) for arg in config["args"])
    used = {m for v in config["env"].values() for m in PLACEHOLDER.findall(v)}
    declared = MANIFEST["user_config"]
    assert used == set(declared)
    for key, field in declared.items():
        assert field.get("required", False) is False, key
        assert "default" in field, f"{key}: an empty optional field would arrive as a literal placeholder"
    assert declared["api_token"]["sensitive"] is True
    assert all(name.startswith(("VERTEXSMS_", "PYTHON")) for name in config["env"])


def _substituted(values: dict[str, object]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, template in MANIFEST["server"]["mcp_config"]["env"].items():
        env[name] = PLACEHOLDER.sub(lambda m: _as_mcpb_string(values[m.group(1)]), template)
    return env


def test_defaults_give_default_settings() -> None:
    """With every field left at its default, the server sees the contract's defaults."""
    defaults = {key: field["default"] for key, field in MANIFEST["user_config"].items()}
    assert Settings.from_env(_substituted(defaults)) == Settings()


def test_user_choices_reach_settings() -> None:
    """A pasted token, test mode 2, sandbox on and DEBUG arrive as the matching settings."""
    defaults = {key: field["default"] for key, field in MANIFEST["user_config"].items()}
    chosen = {**defaults, "api_token": "tok-123456789", "test_mode": 2, "sandbox": True, "log_level": "DEBUG"}
    settings = Settings.from_env(_substituted(chosen))
    assert (settings.api_token, settings.test_mode, settings.sandbox) == ("tok-123456789", "2", True)
    assert settings.log_level == "DEBUG"


def test_money_safety_choices_reach_settings() -> None:
    """The bundle form's limits, guard window, confirmation and retention arrive as Settings; 0 disables."""
    defaults = {key: field["default"] for key, field in MANIFEST["user_config"].items()}
    chosen = {
        **defaults,
        "duplicate_window": 0,
        "max_parts": 3,
        "max_messages_per_day": 0,
        "max_recipients_per_day": 7,
        "max_eur_per_day": 2.5,
        "confirm_sends": False,
        "journal_days": 30,
    }
    settings = Settings.from_env(_substituted(chosen))
    assert (settings.duplicate_window, settings.max_parts, settings.max_messages_per_day) == (0, 3, 0)
    assert (settings.max_recipients_per_day, settings.max_eur_per_day) == (7, 2.5)
    assert (settings.confirm_sends, settings.journal_days) == (False, 30)


def test_leftover_placeholders_are_unset() -> None:
    """A host that passes ``${user_config.x}`` literally still gives the default settings."""
    literal = dict(MANIFEST["server"]["mcp_config"]["env"])
    assert Settings.from_env(literal) == Settings()


def test_mcpbignore_keeps_tests_caches_and_venvs_out() -> None:
    """.mcpbignore names every directory that must never ship in the bundle."""
    patterns = set((ROOT / ".mcpbignore").read_text(encoding="utf-8").split())
    needed = {".venv/", "__pycache__/", "*.pyc", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/", "tests/"}
    needed |= {"dist/", "node_modules/", ".git/", "*.egg-info/"}
    assert needed <= patterns
