"""The system's CA store on Linux (and the other OpenSSL systems), read only as handshakes need it.

httpx2's context (``httpcore2.default_ssl_context``) loads OpenSSL's CA bundle (``cafile``: every
certificate parsed at once -- 144 on Debian, ~1.4 MB of the process and ~1.8 MB of a ``serve``
process's peak RSS, measured in issue 22) and adds its hashed CA folder (``capath``: a
certificate read when a handshake asks for its subject).  Distributions make that folder from
the bundle's own certificates (``update-ca-certificates``, ``openssl rehash``).  When the folder's
certificates are exactly the bundle's -- the same certificates byte for byte, none more, none
fewer, and nothing but plain certificates in either -- the folder alone trusts the same CAs, so
``system_context`` loads only the folder: same trust, verified the same way, with a certificate
parsed only when a server's chain names it.  In every other case (and on Windows and macOS, where
truststore asks the operating system) it is httpx2's context, as before.  Comparing reads the
folder's files once per process (~6 ms on Debian's 144 certificates).
"""

from __future__ import annotations

import base64
import binascii
import os
import platform
import re
import ssl

import httpx2

# One PEM certificate: its base64 body (a character class, not ``.*?``: 5x faster on the bundle).
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----")
# The names OpenSSL's folder lookup opens: the subject hash, as it prints it, and a sequence
# number (``HASH.rN`` files are revocation lists, read only when CRL checks are asked for).
_HASHED = re.compile(r"[0-9a-f]{8}\.[0-9]+")


def system_context() -> ssl.SSLContext:
    """A client context trusting the system's CAs (see the module's docstring)."""
    if platform.system() not in ("Windows", "Darwin"):
        paths = ssl.get_default_verify_paths()  # OpenSSL's compiled-in places, as httpcore2 reads them
        folder = same_folder(paths.openssl_cafile, paths.openssl_capath)
        if folder is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # httpcore2's, before its verify locations
            context.load_verify_locations(capath=folder)
            return context
    return httpx2.create_ssl_context(trust_env=False)


def same_folder(cafile: str, capath: str) -> str | None:
    """``capath`` when the certificates OpenSSL would look up in it are exactly ``cafile``'s, else None."""
    try:
        bundle = _certificates(_read(cafile))
        if bundle is None or not os.path.isdir(capath):
            return None
        folder: set[bytes] = set()
        for name in os.listdir(capath):
            if _HASHED.fullmatch(name):
                found = _certificates(_read(os.path.join(capath, name)))
                if found is None:
                    return None
                folder |= found
    except OSError:
        return None
    return capath if folder == bundle else None


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _certificates(pem: bytes) -> set[bytes] | None:
    """The certificates (DER) of a PEM file; None when it has none or anything else (a CRL, a
    "TRUSTED CERTIFICATE" with OpenSSL's own trust settings, a block that does not decode)."""
    bodies = _PEM.findall(pem)
    if not bodies or pem.count(b"-----BEGIN ") != len(bodies):
        return None  # another label, or a block that is not a plain certificate's
    try:
        return {base64.b64decode(b"".join(body.split()), validate=True) for body in bodies}
    except binascii.Error:
        return None
