"""The core names no product: its errors, messages and redaction speak of "the upstream"."""

from __future__ import annotations

import re
from pathlib import Path

import vertex_stdio.core

CORE = Path(vertex_stdio.core.__file__).parent
PRODUCT = re.compile(r"(?i)vertex[ -]?sms")
# The program's own log-directory variable (README: Files), read before any product is chosen.
KEPT = re.compile(r"VERTEXSMS_LOG_DIR")


def test_no_core_module_names_a_product() -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(CORE.glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRODUCT.search(KEPT.sub("", line))
    ]
    assert found == []


def test_the_check_sees_a_product_name() -> None:
    """The pattern above is not blind: it finds the product however it is written."""
    for written in ("VertexSMS", "vertexsms.com", "X-VertexSMS-Token", "VERTEXSMS_API_TOKEN", "Vertex SMS"):
        assert PRODUCT.search(KEPT.sub("", written)), written
    assert not PRODUCT.search(KEPT.sub("", "VERTEXSMS_LOG_DIR vertex_stdio VertexError vertex-stdio"))
