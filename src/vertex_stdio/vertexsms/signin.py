"""VertexSMS's sign-in profile: the shared sign-in core, told about VertexSMS by its settings.

``oauth/`` names no server; this is where VertexSMS's resource, client name, settings and
what-to-do sentences meet it.  Importing this imports the sign-in core: do it only when
browser sign-in is used (a pasted token never needs it).
"""

from __future__ import annotations

from typing import Any

from vertex_stdio.core.launcher import command
from vertex_stdio.oauth.profile import Advice, SignInProfile
from vertex_stdio.vertexsms.links import sign_in_hint
from vertex_stdio.vertexsms.settings import Settings

CLIENT_NAME = "vertex-stdio (VertexSMS for AI assistants)"


def vertexsms_advice() -> Advice:
    """The what-to-do sentences for VertexSMS, naming the command that starts this installation."""
    return Advice(
        sign_in=sign_in_hint(),
        login_command=command("login"),
        logout_command=command("logout"),
        check_resource="Check VERTEXSMS_MCP_URL, or set VERTEXSMS_API_TOKEN to use an API token.",
        metadata_refused=(
            "Check VERTEXSMS_MCP_URL, or set VERTEXSMS_API_TOKEN to use an API token instead of signing in."
        ),
        no_server_metadata="Set VERTEXSMS_API_TOKEN to use an API token instead.",
        no_registration=(
            "Set VERTEXSMS_CLIENT_ID to a client id registered for vertex-stdio, or set "
            "VERTEXSMS_API_TOKEN to use an API token."
        ),
        registration_failed=(
            "Set VERTEXSMS_CLIENT_ID to a pre-registered client id, or VERTEXSMS_API_TOKEN to use an API token."
        ),
        public_client="Set VERTEXSMS_CLIENT_ID to a public client id.",
        keyring_too_small=(
            "Set VERTEXSMS_ALLOW_FILE_STORE=1 to keep it in a private file instead, or use VERTEXSMS_API_TOKEN."
        ),
        file_store_setting="VERTEXSMS_ALLOW_FILE_STORE",
        callback_port_setting="VERTEXSMS_CALLBACK_PORT",
    )


def vertexsms_profile(settings: Settings) -> SignInProfile:
    """The sign-in for the hosted VertexSMS MCP server (``VERTEXSMS_MCP_URL``), in the default store."""
    return SignInProfile(
        resource_url=settings.mcp_url,
        display_name="VertexSMS",
        client_name=CLIENT_NAME,
        advice=vertexsms_advice(),
        scopes=settings.scopes,
        client_id=settings.client_id,
        callback_port=settings.callback_port,
        signin_timeout=settings.signin_timeout,
        http_timeout=settings.http_timeout,
        allow_file_store=settings.allow_file_store,
    )


def status_details(settings: Settings) -> dict[str, Any]:
    """What ``vertex-stdio status`` adds for VertexSMS: the REST URL and whether a token is pasted."""
    notes = []
    if settings.api_token is not None:
        notes.append("VERTEXSMS_API_TOKEN is set, so the server uses it instead of this sign-in.")
    return {
        "fields": {"api_url": settings.api_url, "api_token_set": settings.api_token is not None},
        "lines": [f"API URL: {settings.api_url}"],
        "notes": notes,
        "authenticated_otherwise": settings.api_token is not None,
    }
