"""``--trust bundle``: the benchmark run where the system's CA bundle is parsed, as on Fedora (issue 22).

Debian and Ubuntu keep OpenSSL's hashed CA folder (``/etc/ssl/certs``: ``HASH.0`` files) beside
the bundle, holding the same certificates; ``core/castore.py`` then loads the folder alone
(a certificate read when a handshake names it).  Fedora and RHEL keep no hashed folder where
OpenSSL looks (``/etc/pki/tls/certs`` holds the bundle file only), so there the whole bundle is
parsed, ~1.2 MB more of a ``serve`` process.  To measure that here, with no knob in the
product, ``--trust bundle`` runs this benchmark again in a private mount namespace
(``unshare -rm``: no root needed) where OpenSSL's CA folder holds the bundle's file and nothing
else.  ``trust_store`` says, in the table, which way this machine's processes load it.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import tempfile

INSIDE = "VERTEX_BENCH_TRUST_BUNDLE"  # set in the namespace: the run is the Fedora-like one
# In the namespace: the folder replaced by one holding only the bundle's file, then the run.
_SCRIPT = 'mount --bind "$0" "$1" && shift && exec "$@"'


def trust_store() -> str:
    """How a ``serve`` process on this machine (or in this namespace) loads the CA store."""
    from vertex_stdio.core.castore import same_folder

    paths = ssl.get_default_verify_paths()
    if same_folder(paths.openssl_cafile, paths.openssl_capath) is not None:
        return f"the hashed CA folder alone ({paths.openssl_capath}: the bundle's certificates)"
    layout = " (Fedora-like: the folder hidden, benchmark --trust bundle)" if os.environ.get(INSIDE) else ""
    return f"the CA bundle parsed ({paths.openssl_cafile}){layout}"


def run_with_bundle_only(argv: list[str]) -> int:
    """This benchmark (``argv``: its arguments, ``--trust`` left out) in a namespace whose CA
    folder holds only the bundle; its exit status.  Needs Linux's ``unshare`` and user namespaces."""
    if shutil.which("unshare") is None:
        sys.stderr.write("benchmark: --trust bundle needs util-linux's unshare (Linux)\n")
        return 2
    paths = ssl.get_default_verify_paths()
    capath, cafile = os.path.realpath(paths.openssl_capath), os.path.realpath(paths.openssl_cafile)
    with tempfile.TemporaryDirectory(prefix="vertex-bench-ca-") as folder:
        # the bundle keeps its path when it lives in the folder (Debian: ca-certificates.crt)
        shutil.copyfile(cafile, os.path.join(folder, os.path.basename(cafile)))
        command = [sys.executable, os.path.abspath(sys.argv[0]), *argv]
        env = {**os.environ, INSIDE: "1"}
        wrapped = ["unshare", "-rm", "sh", "-c", _SCRIPT, folder, capath, *command]
        return subprocess.run(wrapped, env=env, check=False).returncode
