"""The system's CA folder instead of its bundle, only when both hold the same certificates (core/castore.py).

Built in the test: a bundle and a hashed folder (named by ``openssl x509 -subject_hash``, as
``openssl rehash`` names them) of private CAs, and a loopback TLS server: the folder alone
trusts what the bundle trusts, reads a CA only when a handshake asks for it, and refuses what
the bundle refuses.  Any difference between the two, or anything but plain certificates, and
the bundle is loaded as before.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import httpx2
import pytest
from loopback import serve_in_thread
from private_ca import certificates
from starlette.types import Receive, Scope, Send

from vertex_stdio.core.castore import same_folder, system_context


def _hashed(ca: Path) -> str:
    """The file name OpenSSL's folder lookup opens for ``ca``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command names the folder's files")
    found = subprocess.run([openssl, "x509", "-noout", "-subject_hash", "-in", str(ca)], capture_output=True)
    return found.stdout.decode().strip()


def _store(tmp: Path, cas: list[Path], folder_cas: list[Path] | None = None) -> tuple[str, str]:
    """A bundle of ``cas`` (CRLF line ends, one twice) and a folder of ``folder_cas`` (default the same)."""
    bundle, folder = tmp / "bundle.crt", tmp / "certs"
    folder.mkdir(parents=True)
    pems = [ca.read_bytes() for ca in cas]
    bundle.write_bytes(b"".join(pems).replace(b"\n", b"\r\n") + pems[0])
    for index, ca in enumerate(cas if folder_cas is None else folder_cas):
        (folder / f"{_hashed(ca)}.{index}").write_bytes(ca.read_bytes())
    (folder / "README").write_text("not a certificate, and not a name OpenSSL's lookup opens\n")
    return str(bundle), str(folder)


def _cas(tmp: Path, count: int) -> list[tuple[Path, Path, Path]]:
    made = []
    for index in range(count):
        (tmp / f"ca{index}").mkdir()
        made.append(certificates(tmp / f"ca{index}"))
    return made


@pytest.mark.slow  # the openssl command names the folder's files
def test_the_folder_is_used_only_when_it_holds_exactly_the_bundles_certificates(tmp_path: Path) -> None:
    (a, _, _), (b, _, _), (c, _, _) = _cas(tmp_path, 3)
    cases = {
        "same": ([a, b], None, True),
        "one fewer in the folder": ([a, b], [a], False),
        "one more in the folder": ([a, b], [a, b, c], False),
    }
    for name, (cas, folder_cas, used) in cases.items():
        bundle, folder = _store(tmp_path / name, cas, folder_cas)
        assert (same_folder(bundle, folder) == folder) is used, name
    bundle, folder = _store(tmp_path / "trusted", [a])
    trusted = a.read_bytes().replace(b"CERTIFICATE", b"TRUSTED CERTIFICATE")
    next(Path(folder).glob("*.0")).write_bytes(trusted)  # carries OpenSSL's own trust settings
    assert same_folder(bundle, folder) is None
    Path(bundle).write_bytes(a.read_bytes() + b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    assert same_folder(bundle, folder) is None
    pem = a.read_bytes()
    for odd in (
        pem.replace(b"-----END", b"!-----END", 1),  # a body that is not base64
        pem.replace(b"-----END CERTIFICATE-----", b""),  # a block never ended
        pem + pem.split(b"\n", 1)[0] + b"\n",  # a second block begun, never ended
    ):
        next(Path(folder).glob("*.0")).write_bytes(odd)
        assert same_folder(str(a), folder) is None, odd[-80:]
    assert same_folder(str(tmp_path / "none.crt"), folder) is None
    assert same_folder(str(a), str(tmp_path / "no-folder")) is None


def _app(name: str) -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": name.encode()})

    return app


async def _get(url: str, context: ssl.SSLContext) -> str:
    async with httpx2.AsyncClient(verify=context, timeout=10.0) as client:
        return (await client.get(url)).text


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_folder_alone_trusts_and_refuses_what_the_bundle_does(tmp_path: Path) -> None:
    """One server signed by a CA in the store, one by a CA outside it: the folder-only context
    (CAs read as handshakes need them) and a bundle context answer the same."""
    (ca, cert, key), (_, stranger_cert, stranger_key), (other, _, _) = _cas(tmp_path, 3)
    bundle, folder = _store(tmp_path, [ca, other])
    assert same_folder(bundle, folder) == folder
    lazy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    lazy.load_verify_locations(capath=folder)
    eager = ssl.create_default_context(cafile=bundle)
    assert lazy.cert_store_stats()["x509_ca"] == 0  # nothing parsed before a handshake asks
    with (
        serve_in_thread(_app("ours"), lifespan="off", ssl_certfile=str(cert), ssl_keyfile=str(key)) as ours,
        serve_in_thread(
            _app("stranger"), lifespan="off", ssl_certfile=str(stranger_cert), ssl_keyfile=str(stranger_key)
        ) as stranger,
    ):
        for context in (lazy, eager):
            assert await _get(ours.replace("http://", "https://") + "/", context) == "ours"
            with pytest.raises(httpx2.ConnectError):
                await _get(stranger.replace("http://", "https://") + "/", context)
    assert lazy.cert_store_stats()["x509_ca"] >= 1  # read when the handshake named its subject


def test_the_systems_context_is_httpx2s_but_for_where_its_cas_come_from() -> None:
    ours, theirs = system_context(), httpx2.create_ssl_context(trust_env=False)
    for setting in ("protocol", "verify_mode", "check_hostname", "options", "verify_flags"):
        assert getattr(ours, setting) == getattr(theirs, setting), setting
    assert (ours.minimum_version, ours.maximum_version) == (theirs.minimum_version, theirs.maximum_version)
    assert ours.get_ciphers() == theirs.get_ciphers()
    paths = ssl.get_default_verify_paths()
    if same_folder(paths.openssl_cafile, paths.openssl_capath) is not None:  # this machine's store
        assert ours.cert_store_stats()["x509_ca"] == 0
    else:
        assert ours.cert_store_stats() == theirs.cert_store_stats()
