"""Secrets sealed with AES-GCM in a 0600 file; only the small key lives in the OS keyring.

The pattern browsers use for their "Safe Storage" key: the keyring holds one 32-byte key per
machine (and keyring service), written once, the first time a secret is saved; the rotating token
set goes to ``secrets.sealed`` in the state directory, each entry encrypted with its account name
as associated data.  So a refresh-token rotation writes a file, never the keyring: macOS keeps its
"Always Allow", and the keyring item (44 characters) stays far under Windows' 2,560-byte limit.

Writers hold the file's cross-process lock and re-read the file first.  A sign-in stored by an
older version directly in the keyring is moved here on first read, without a new browser
sign-in.  An entry that does not decrypt (its key was reset) counts as absent.

The key may be replaced in the keyring while a process runs (a keychain reset, then another
process creating a new key): so it is read again under the lock before every write (a write
with a stale key would lock every other process out of the sign-in) and once more after a
decrypt failure, before the entry is called unreadable.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path

from vertex_stdio.oauth.storage.secrets import FileSecrets, KeyringSecrets

log = logging.getLogger(__name__)

KEY_ACCOUNT = "sealing-key"
"""The keyring account holding the file's key (base64 of 32 bytes)."""
NONCE_BYTES = 12


class SealedSecrets:
    """``Secrets`` in an AES-GCM sealed file whose key sits in the keyring (see the module doc)."""

    persistent = True

    def __init__(self, path: Path, keyring: KeyringSecrets, lock_timeout: float = 10.0) -> None:
        self._file = FileSecrets(path, lock_timeout)
        self._path = path
        self._keyring = keyring
        self._key: bytes | None = None

    @property
    def label(self) -> str:
        return f"{self._keyring.label} key + encrypted file ({self._path})"

    def get(self, account: str) -> str | None:
        sealed = self._file.get(account)
        if sealed is not None:
            return self._opened(account, sealed)
        legacy = self._keyring.get(account)
        if legacy is not None:
            self._migrate(account, legacy)
        return legacy

    def set(self, account: str, secret: str) -> None:
        with self._file.locked():  # the lock also makes the key's one-time creation single
            self._key = None  # read again: another process may have replaced it
            self._file.put(account, _seal(self._key_for_writing(), account, secret))

    def delete(self, account: str) -> None:
        self._file.delete(account)
        self._keyring.delete(account)  # a copy an older version left in the keyring

    def _migrate(self, account: str, secret: str) -> None:
        self.set(account, secret)
        self._keyring.delete(account)
        log.info("moved the saved sign-in from the keyring into the encrypted file %s", self._path)

    def _opened(self, account: str, sealed: str) -> str | None:
        """The entry decrypted with the cached key, else with the keyring's key read again."""
        key = self._stored_key()
        plain = _open(key, account, sealed) if key is not None else None
        if plain is None:
            self._key = None
            fresh = self._stored_key()
            if fresh is not None and fresh != key:
                plain = _open(fresh, account, sealed)
        if plain is None:
            log.warning(
                "a saved sign-in does not decrypt (its key was reset or the file was edited); ignoring it"
            )
        return plain

    def _stored_key(self) -> bytes | None:
        if self._key is None:
            encoded = self._keyring.get(KEY_ACCOUNT)
            self._key = _decode_key(encoded) if encoded else None
        return self._key

    def _key_for_writing(self) -> bytes:
        key = self._stored_key()
        if key is None:
            key = os.urandom(32)
            self._keyring.set(KEY_ACCOUNT, base64.b64encode(key).decode("ascii"))
            log.info("created the key for the encrypted sign-in file (stored once in the keyring)")
            self._key = key
        return key


def _decode_key(encoded: str) -> bytes | None:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        log.warning("the sign-in key in the keyring is damaged; saved sign-ins cannot be read")
        return None
    return key


def _seal(key: bytes, account: str, secret: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # lazy: start-up stays lean

    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, secret.encode("utf-8"), account.encode("utf-8"))
    return base64.b64encode(nonce + sealed).decode("ascii")


def _open(key: bytes, account: str, sealed: str) -> str | None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.b64decode(sealed, validate=True)
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], account.encode("utf-8"))
    except (binascii.Error, ValueError, InvalidTag):
        return None
    return plain.decode("utf-8")
