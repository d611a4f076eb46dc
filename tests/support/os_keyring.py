"""A file-backed keyring that passes for a real OS keyring, for tests of the whole process.

``oauth_server.filekeyring.FileKeyring`` has a negative priority, so the product treats it as
"no recommended keyring" (the opt-in file store path).  This one has the priority a real
SecretService or macOS keychain has, so the product keeps secrets "in the keyring" exactly as on a
person's desktop; select it with ``PYTHON_KEYRING_BACKEND=os_keyring.FileOsKeyring`` and
``TEST_KEYRING_FILE``.  Test-only (a plaintext file): it shows what reached the keyring.
"""

from __future__ import annotations

from oauth_server.filekeyring import FileKeyring


class FileOsKeyring(FileKeyring):
    priority = 5  # type: ignore[assignment]  # a secure store's priority; only chosen by name
