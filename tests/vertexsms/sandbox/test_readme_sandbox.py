"""The README's list of what the sandbox emulates is the emulator's own data, and each sample
number and the PIN work in the sandbox as the README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge import connected, envelope, ok
from vertex_stdio.vertexsms.sandbox import Emulator
from vertex_stdio.vertexsms.sandbox.data import COUNTRY_LIST, operators_of, sample_number
from vertex_stdio.vertexsms.sandbox.state import SANDBOX_PIN

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parents[3] / "README.md"
START, END = "<!-- sandbox-facts: start -->", "<!-- sandbox-facts: end -->"


def sandbox_facts() -> str:
    """The README block, rendered from ``sandbox.data`` and ``SANDBOX_PIN``."""
    lines = ["| country | calling code | sample mobile number | operators |", "|---|---|---|---|"]
    for country in COUNTRY_LIST:
        operators = ", ".join(op.name for op in operators_of(country.iso2))
        lines.append(
            f"| {country.iso2} {country.name} | +{country.calling_code} | `{sample_number(country.iso2)}` | {operators} |"
        )
    lines += [
        "",
        f"The PIN that confirms a phone-number sender (`confirm_msisdn_sender`) is always `{SANDBOX_PIN}`;",
        "no PIN SMS is sent. A send to any other country is refused the way VertexSMS refuses a",
        'destination the account cannot reach ("Country/operator not configured for the account").',
    ]
    return "\n".join(lines)


def test_readme_lists_the_sandbox_countries_numbers_and_pin() -> None:
    """The block between the sandbox-facts markers is exactly what the data renders to."""
    text = README.read_text(encoding="utf-8")
    assert START in text
    assert END in text
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == sandbox_facts(), (
        "README is out of date; paste this between the markers:\n" + sandbox_facts()
    )


async def test_every_sample_number_works_in_the_sandbox(emulator: Emulator) -> None:
    """Each listed number is a valid mobile of its country and can be sent to in the sandbox."""
    async with connected(emulator) as client:
        for country in COUNTRY_LIST:
            number = sample_number(country.iso2)
            corrected = ok(
                await client.call_tool(
                    "correct_phone_number", {"numbers": [{"number": number, "country": country.iso2}]}
                )
            )
            assert corrected["results"][0]["number_e164"] == number, corrected
            assert corrected["results"][0]["mobile"] is True, corrected  # "sample mobile number"
            sent = ok(await client.call_tool("send_sms", {"to": number, "from": "ACME", "message": "hi"}))
            assert sent["destination"] == number


async def test_the_listed_pin_confirms_a_sender(emulator: Emulator) -> None:
    """register_msisdn_sender then confirm_msisdn_sender with the README's PIN succeeds."""
    async with connected(emulator) as client:
        registered = ok(await client.call_tool("register_msisdn_sender", {"msisdn": sample_number("LT")}))
        confirmed = ok(
            await client.call_tool(
                "confirm_msisdn_sender", {"sender_id": registered["sender_id"], "code": SANDBOX_PIN}
            )
        )
    assert confirmed["confirmed"] is True


async def test_other_countries_are_refused_as_the_readme_says(emulator: Emulator) -> None:
    """A send to a country outside the list is refused with VertexSMS's own words."""
    async with connected(emulator) as client:
        refused = envelope(
            await client.call_tool("send_sms", {"to": "+819012345678", "from": "ACME", "message": "hi"})
        )
    assert refused["outcome"] == "refused"
    assert "Country/operator not configured for the account" in refused["message"]
