"""``connectoptions.machine_refused`` (what the early path asks at start-up, reading no secret)
refuses exactly the command lines ``machine_from`` refuses, but for a key file it cannot read (that
is found out at the first call, where ``machine_from`` reads it and nothing goes out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vertex_stdio.app.arguments import build_parser
from vertex_stdio.app.connectoptions import machine_from, machine_refused, machine_wanted, secret_from_env
from vertex_stdio.core.errors import ConfigError

URL = "https://mcp.example/mcp"
IDP = ("--idp-token-endpoint", "https://idp.example/token", "--idp-client-id", "x")
LINES = [
    (),
    ("--client-id", "c"),
    ("--client-credentials",),
    ("--client-credentials", "--client-id", "c"),
    ("--client-credentials", "--client-secret-env", "T_SECRET"),
    ("--client-credentials", "--client-id", "c", "--client-secret-env", "T_SECRET"),
    ("--client-credentials", "--client-id", "c", "--private-key", "KEY"),
    ("--private-key", "KEY"),
    ("--client-id", "c", "--private-key", "KEY"),
    ("--client-id", "c", "--client-secret-env", "T_SECRET", "--idp-client-id", "x"),
    ("--client-id", "c", "--client-secret-env", "T_SECRET", *IDP, "--idp-id-token-env", "T_ID"),
    ("--client-id", "c", "--client-secret-env", "T_SECRET", *IDP, "--idp-id-token-env", "T_UNSET"),
    ("--client-id", "c", *IDP, "--idp-id-token-env", "T_ID"),
    (
        *("--client-id", "c", "--client-secret-env", "T_SECRET", "--idp-token-endpoint"),
        *("http://idp.example/token", "--idp-client-id", "x", "--idp-id-token-env", "T_ID"),
    ),
]


@pytest.fixture
def key(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path / "key.pem"
    path.write_bytes(pem)
    return path


@pytest.mark.parametrize("line", LINES, ids=[" ".join(line) or "none" for line in LINES])
def test_machine_refused_agrees_with_machine_from(
    line: tuple[str, ...], key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_SECRET", "s3cr3t-value")
    monkeypatch.setenv("T_ID", "id-token-value")
    monkeypatch.delenv("T_UNSET", raising=False)
    args = build_parser().parse_args(["connect", URL, *(str(key) if a == "KEY" else a for a in line)])
    try:
        secret = secret_from_env(args.client_secret_env, args.remote_client_id)
        machine = machine_from(args, secret)
        refused = False
    except ConfigError:
        machine, refused = None, True
    assert machine_refused(args) is (refused and machine_wanted(args))
    assert (machine is not None) is (machine_wanted(args) and not refused)


def test_a_key_file_is_only_read_by_machine_from(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    args = build_parser().parse_args(["connect", URL, "--client-id", "c", "--private-key", str(bad)])
    assert machine_refused(args) is False
    with pytest.raises(ConfigError, match="not a readable"):
        machine_from(args, None)
