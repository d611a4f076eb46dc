"""What the bundle ships besides the code: an MIT LICENSE that matches the metadata, an icon the
manifest names (a real PNG), and an ignore list that keeps everything that does not run out."""

from __future__ import annotations

import json
import struct
import tomllib
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_license_is_mit_as_declared() -> None:
    """LICENSE is the MIT text; pyproject and the manifest say MIT."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "MIT"
    assert json.loads((ROOT / "manifest.json").read_text())["license"] == "MIT"


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The PNG's chunks, each CRC-checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def test_manifest_icon_is_a_square_png() -> None:
    """manifest.json's icon is a valid 256x256 RGBA PNG that decompresses to every row."""
    icon = json.loads((ROOT / "manifest.json").read_text())["icon"]
    chunks = _chunks((ROOT / icon).read_bytes())
    kind, header = chunks[0]
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert (kind, width, height, depth, color) == (b"IHDR", 256, 256, 8, 6)
    pixels = zlib.decompress(b"".join(body for k, body in chunks if k == b"IDAT"))
    assert len(pixels) == height * (1 + width * 4)
    assert chunks[-1][0] == b"IEND"


def test_mcpbignore_leaves_out_what_does_not_run() -> None:
    """Benchmarks, docs, scripts, tests and repository files never reach the bundle."""
    patterns = set((ROOT / ".mcpbignore").read_text(encoding="utf-8").split())
    assert {
        "benchmarks/",
        "docs/",
        "scripts/",
        "tests/",
        ".ci/",
        ".gitignore",
        ".mcpbignore",
        "CHANGELOG.md",
    } <= patterns
