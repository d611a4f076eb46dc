"""Every place a sign-in may be kept, for ``logout`` and ``status``.

A process uses one secret store (``TokenStore.default``: the keyring-sealed file, the opt-in
plain file, or memory), but a sign-in made by another command may sit in another one: signed
in with ``--allow-file-store`` and signed out without the setting, or signed in where the
keyring worked and looked at where it does not.  ``every_store`` lists the stores that may
hold one; ``find`` reads a sign-in from the first that has it.  All share one state directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vertex_stdio.core.errors import VertexError
from vertex_stdio.oauth.profile import SignInProfile
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.storage.sealed import SealedSecrets
from vertex_stdio.oauth.storage.secrets import (
    SERVICE,
    FileSecrets,
    KeyringSecrets,
    keyring_problem,
    os_keyring,
)
from vertex_stdio.oauth.storage.store import PLAIN_FILE, SEALED_FILE, SessionKey, TokenStore


def every_store(profile: SignInProfile, first: TokenStore) -> list[TokenStore]:
    """``first`` (this process's store), then the keyring-sealed file when a keyring is usable
    here, then the plain file when one exists, even without the setting that allows it."""
    state_dir = first.state_dir
    stores = [first]
    if keyring_problem(os_keyring()) is None:
        service = SERVICE if profile.namespace is None else f"{SERVICE}/{profile.namespace}"
        sealed = SealedSecrets(state_dir / SEALED_FILE, KeyringSecrets(service=service))
        stores.append(TokenStore(state_dir, sealed))
    plain = state_dir / PLAIN_FILE
    if plain.exists():
        stores.append(TokenStore(state_dir, FileSecrets(plain)))
    unique: dict[str, TokenStore] = {}
    for store in stores:
        unique.setdefault(store.secrets.label, store)
    return list(unique.values())


@dataclass(frozen=True)
class Found:
    """Where a sign-in was read (``store``, ``tokens``), or why none could be (``problems``)."""

    store: TokenStore | None = None
    tokens: Tokens | None = None
    problems: tuple[str, ...] = ()


async def find(stores: Sequence[TokenStore], key: SessionKey) -> Found:
    """The sign-in for ``key`` from the first store that holds it; each store's refusal noted."""
    problems: list[str] = []
    for store in stores:
        try:
            tokens = await store.load(key)
        except VertexError as exc:
            problems.append(f"{store.secrets.label}: {exc.message}")
            continue
        if tokens is not None:
            return Found(store, tokens, tuple(problems))
    return Found(problems=tuple(problems))
