"""Who signs in when no person does: the client itself (its secret or key), or cross-app access.

Plain data (no I/O): ``oauth.machine`` runs these sign-ins; a ``SignInProfile`` carries one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CrossApp:
    """The identity provider's side of cross-app access: where to exchange the person's ID token."""

    token_endpoint: str
    client_id: str
    id_token: str = field(repr=False)


@dataclass(frozen=True)
class Machine:
    """How the client signs in by itself: its key (``private_key_jwt``) or its secret, or cross-app."""

    client_id: str
    secret: str | None = field(default=None, repr=False)
    private_key: bytes | None = field(default=None, repr=False)
    cross_app: CrossApp | None = None
    auth_method: str | None = None
    """How the secret is sent (``client_secret_basic`` / ``_post``); None: as the server prefers."""
