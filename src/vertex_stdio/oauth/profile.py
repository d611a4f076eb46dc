"""What one server's sign-in needs from its caller: where to sign in, how, and the words to use.

The sign-in core serves every server (the bridge's own, and any remote MCP server ``connect`` serves),
so nothing in ``oauth/`` names one.  The caller builds a ``SignInProfile``: the protected
resource, the client's name, scopes, a pre-registered client id, timeouts, the storage
namespace, and ``Advice``, the sentences that tell the person what to do in the caller's terms
(its settings and commands).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vertex_stdio.core.launcher import command
from vertex_stdio.oauth.protocol.unattended import Machine


@dataclass(frozen=True)
class Advice:
    """What-to-do sentences the sign-in core appends to its messages; each is one or two sentences."""

    sign_in: str
    """How to sign in (ends every ``AUTH_REQUIRED`` message)."""
    file_store_setting: str
    """The setting that lets the sign-in live in a private 0600 file."""
    callback_port_setting: str
    """The setting that picks the loopback redirect port."""
    login_command: str = field(default_factory=lambda: command("login"))
    """The terminal command that signs in now, as written in messages."""
    logout_command: str = field(default_factory=lambda: command("logout"))
    """The terminal command that signs out, as written in messages."""
    check_resource: str = "Check the server URL."
    """The resource publishes no protected-resource metadata."""
    metadata_refused: str = "Check the server URL."
    """Discovery metadata was refused for the person's safety."""
    no_server_metadata: str = "Ask the server's operator how to sign in."
    """The authorization server publishes no metadata."""
    no_registration: str = "Pass a client id registered for vertex-stdio."
    """The authorization server offers no way for this app to register itself."""
    registration_failed: str = "Pass a pre-registered client id."
    """Dynamic client registration failed."""
    public_client: str = "Pass a public client id."
    """The server registered this app as a confidential client."""
    keyring_too_small: str = "Keep it in a private file instead."
    """The token set does not fit the keyring."""
    allow_file_store: str = ""
    """How to allow the private file, as a clause after "or" (default ``set <setting>=1``)."""
    allow_file_store_in_client: str = ""
    """The same for the server a client starts (default: the setting in its environment)."""
    choose_callback_port: str = ""
    """How to pick another redirect port, as a clause (default ``set <setting> to a free port``)."""

    def __post_init__(self) -> None:
        # The defaults speak of settings (environment variables); a product whose settings are
        # command-line options (connect) gives all three in its own terms.
        defaults = {
            "allow_file_store": f"set {self.file_store_setting}=1",
            "allow_file_store_in_client": (
                f"set {self.file_store_setting}=1 in the MCP server's environment too (your client's config)"
            ),
            "choose_callback_port": f"set {self.callback_port_setting} to a free port",
        }
        for name, default in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, default)


@dataclass(frozen=True)
class SignInProfile:
    """One server's sign-in, as its caller describes it."""

    resource_url: str
    """The protected resource (the MCP URL): discovery starts here."""
    display_name: str
    """What the person calls the server: "Sign in to <display_name>"."""
    client_name: str
    """``client_name`` in a dynamic client registration."""
    advice: Advice
    scopes: tuple[str, ...] | None = None
    """Scopes to ask for; None: the challenge's, else the metadata's."""
    client_id: str | None = field(default=None)
    """A pre-registered client id (skips registration)."""
    client_secret: str | None = field(default=None, repr=False)
    """The pre-registered client's secret, if it has one (read from the environment, never argv)."""
    client_auth: str | None = None
    """How that secret is sent: ``client_secret_basic`` or ``client_secret_post``; None: as the
    server's metadata prefers."""
    machine: Machine | None = field(default=None, repr=False)
    """Sign in unattended, as the client itself (``client_credentials`` or cross-app access): no browser."""
    callback_port: int = 0
    signin_timeout: float = 120.0
    http_timeout: float = 30.0
    allow_file_store: bool = False
    namespace: str | None = None
    """Where this server's sign-in state lives: None for the default place, else its own folder
    (registrations, cached metadata, sessions and locks) and its own keyring service."""
