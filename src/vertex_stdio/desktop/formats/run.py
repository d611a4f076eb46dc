"""``setup`` for Windsurf, Zed, Cline, Goose, Continue, LM Studio and JetBrains AI Assistant.

Each gets the entry its documentation describes (``entries``) in the file it reads (``places``):
JSON ``mcpServers`` for Windsurf, Cline and LM Studio; JSONC ``context_servers`` for Zed (comments
kept, ``desktop/jsonc.py``); YAML for Goose and Continue (comments kept, ``yamlfile``).  JetBrains
AI Assistant reads no file: its JSON is printed to paste into its settings page.

No API token is written into any of these files: none of these clients has a secret store an
entry can point at (as VS Code's ``inputs`` are).  ``setup --api-token`` has already checked the
token and kept it where the server finds it (``setup._place_token``) before this runs; the entry
gets only the settings (``VERTEXSMS_ALLOW_FILE_STORE=1`` when the token went to the file store).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from vertex_stdio.core.errors import EXIT_FIXABLE, EXIT_OK
from vertex_stdio.desktop import clients
from vertex_stdio.desktop.files import SetupError
from vertex_stdio.desktop.formats import entries, places
from vertex_stdio.desktop.formats.places import JETBRAINS_SETTINGS
from vertex_stdio.desktop.merge import merge_entry
from vertex_stdio.vertexsms.apitoken import Stored

_YAML_CLIENTS = ("goose", "continue")
# What each client does once its file changed (from its docs; a restart always works).
_PICK_UP = {
    "windsurf": "Press the refresh button in Windsurf's MCP panel (or restart Windsurf) to pick it up.",
    "zed": "Zed reloads settings.json when it changes; the server shows in the Agent Panel's settings.",
    "cline": "Cline reloads its MCP settings file when it changes; check the MCP Servers panel.",
    "goose": "Start a new goose session (or restart goose Desktop) to pick it up.",
    "continue": "Reload Continue (command palette: Continue: Reload) to pick it up; MCP runs in agent mode.",
    "lmstudio": "LM Studio reloads mcp.json when it changes; the server shows under Program > Integrations.",
}


def run_file_client(
    target: clients.Client,
    name: str,
    launcher: Sequence[str],
    settings: Mapping[str, str],
    secret: object,
    config_path: Path | None,
    write: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """Print ``target``'s entry for this machine on ``out``; with ``write``, merge it into its file.

    ``secret`` is where ``--api-token`` kept the token (a ``Stored``), or None.  Same exits as
    ``run_setup``: 0 done, 1 when the entry cannot be put in place safely.
    """
    # Never a token in these files, whatever the settings hold (setup already took it out).
    plain = {k: v for k, v in settings.items() if k != clients.TOKEN_VAR}
    entry = entries.entry_for(target.name, name, clients.server_entry(target, launcher, plain))
    kept = secret if isinstance(secret, Stored) else None
    if target.name == "jetbrains":
        return _jetbrains(name, entry, write=write, out=out, err=err, kept=kept)
    path = config_path or default_path(target.name, name)
    out.write(_snippet(target, name, entry))
    if not write:
        err.write(f"Add this to {path} (or run again with --write to merge it in).\n")
        return _token_note(err, path, kept)
    try:
        changed, created, backup = _merge(target, path, name, entry)
    except SetupError as exc:
        err.write(f"vertex-stdio setup: {exc}\n")
        return EXIT_FIXABLE
    if not changed:
        err.write(f"{path} already has this {name} entry; nothing changed.\n")
    else:
        err.write(f"{'Created' if created else 'Updated'} {path} with the {name} entry.\n")
        if backup is not None:
            err.write(f"The previous file is saved as {backup}.\n")
        err.write(_PICK_UP[target.name] + "\n")
    return _token_note(err, path, kept)


def default_path(client: str, name: str) -> Path:
    """The file ``--write`` merges into; Continue without ``config.yaml`` gets a block file of ours."""
    path = places.config_file(client)
    if path is None:
        raise ValueError(f"{client} has no config file")
    if client == "continue" and not path.exists():
        return path.parent / "mcpServers" / f"{name}.yaml"
    return path


def _snippet(target: clients.Client, name: str, entry: dict[str, Any]) -> str:
    if target.name in _YAML_CLIENTS:
        from vertex_stdio.desktop.formats import yamlfile

        return yamlfile.snippet(target.name, name, entry)
    return json.dumps({target.servers_key: {name: entry}}, indent=2, ensure_ascii=False) + "\n"


def _merge(
    target: clients.Client, path: Path, name: str, entry: dict[str, Any]
) -> tuple[bool, bool, Path | None]:
    if target.name in _YAML_CLIENTS:
        from vertex_stdio.desktop.formats import yamlfile  # ruamel.yaml only for these two

        done = yamlfile.merge(path, target.name, name, entry)
        return done.changed, done.created, done.backup
    # Zed reads settings.json as JSONC (its default file opens with // comments): keep them.
    result = merge_entry(path, target.servers_key, name, entry, comments=target.name == "zed")
    return result.changed, result.created, result.backup


def _jetbrains(
    name: str, entry: dict[str, Any], *, write: bool, out: TextIO, err: TextIO, kept: Stored | None
) -> int:
    """Print the JSON JetBrains AI Assistant takes on its settings page; it has no file to merge."""
    out.write(json.dumps({"mcpServers": {name: entry}}, indent=2, ensure_ascii=False) + "\n")
    err.write(
        "JetBrains AI Assistant keeps MCP servers in the IDE's own settings, not in a file setup can "
        f"merge into. Open {JETBRAINS_SETTINGS}, click Add, choose to enter the configuration as "
        "JSON, and paste the JSON above (Global applies it to every project).\n"
    )
    _token_note(err, None, kept)
    if write:
        err.write("vertex-stdio setup: nothing was written (--write cannot reach JetBrains' settings).\n")
        return EXIT_FIXABLE
    return EXIT_OK


def _token_note(err: TextIO, path: Path | None, kept: Stored | None) -> int:
    if kept is not None:
        where = f"{path}" if path else "the JSON above"
        err.write(
            f"Your API token was checked with VertexSMS and kept in {kept.store} ({kept.note}); "
            f"it is not in {where}: the server reads it from there when {clients.TOKEN_VAR} is unset.\n"
        )
    return EXIT_OK
