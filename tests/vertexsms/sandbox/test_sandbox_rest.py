"""The emulator's REST API over real loopback HTTP: successes, validation and auth answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from vertex_stdio.vertexsms.sandbox import ALL_SCOPES, SANDBOX_PIN, SANDBOX_TOKEN, Emulator
from vertex_stdio.vertexsms.smsparts import count_parts

SENDER_RULE = (
    "The sender must be a valid MSISDN or alphanumeric with at most 11 characters "
    "(Latin letters, digits, spaces and dots)"
)
SMS = {"to": "37061860698", "from": "VERTEXSMS", "message": "Your verification code is 4815"}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(emu: Emulator) -> Iterator[httpx2.Client]:
    """A client that sends the sandbox token (one per module: creating clients is slow)."""
    with httpx2.Client(
        base_url=emu.api_url, headers={"X-VertexSMS-Token": SANDBOX_TOKEN}, timeout=5
    ) as client:
        yield client


@pytest.fixture(scope="module")
def plain(emu: Emulator) -> Iterator[httpx2.Client]:
    """A client that sends no token."""
    with httpx2.Client(base_url=emu.api_url, timeout=5) as client:
        yield client


def sms(**changes: Any) -> dict[str, Any]:
    return {**SMS, **changes}


def test_send_sms_returns_one_marked_id_and_the_part_count(api: httpx2.Client) -> None:
    """A send answers 200 with ["sandbox-..."] and X-VertexSMS-Amount-Sent."""
    response = api.post("/sms", json=sms())
    assert response.status_code == 200
    ids = response.json()
    assert len(ids) == 1
    assert re.fullmatch(r"sandbox-\d+", ids[0])
    assert response.headers["X-VertexSMS-Amount-Sent"] == "1"


@pytest.mark.parametrize("message", ["x" * 161, "ą" * 71, "€" * 90])
def test_amount_sent_uses_count_parts(api: httpx2.Client, message: str) -> None:
    """Long GSM-7 and UCS-2 texts are counted as the shared part counter counts them."""
    response = api.post("/sms", json=sms(message=message))
    assert response.headers["X-VertexSMS-Amount-Sent"] == str(count_parts(message))
    assert count_parts(message) > 1


def test_message_ids_are_distinct(api: httpx2.Client) -> None:
    """Each send gets its own message ID."""
    first, second = (api.post("/sms", json=sms()).json()[0] for _ in range(2))
    assert first != second


@pytest.mark.parametrize(
    "changes",
    [
        {"to": "+37061860698"},
        {"from": "37069555555"},
        {"from": "Shop 1.0"},
        {"priority": "high", "expireIn": 360, "testMode": "1"},
        {"scheduled": "2015-01-01T13:00:00+02:00", "dlrUrl": "https://example.com/dlr"},
        {"coding": 2, "udh": "%05%00%03%CC%02%01"},
        {"coding": 0, "message": "short"},
        {"to": "861860698", "correctBy": "LT"},
        {"to": "+1 212 555 1234".replace(" ", "")},
    ],
)
def test_send_sms_accepts_valid_options(api: httpx2.Client, changes: dict[str, Any]) -> None:
    """Documented optional fields and formats are accepted."""
    assert api.post("/sms", json=sms(**changes)).status_code == 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"from": "VERTEXSMS-LONG"}, SENDER_RULE),
        ({"from": "Shop!"}, SENDER_RULE),
        ({"from": ""}, SENDER_RULE),
        ({"message": ""}, "The message must not be empty."),
        ({"to": "88812345678"}, "Country/operator not configured for the account"),
        ({"to": "99912345678"}, "Country/operator not configured for the account"),
        ({"to": "37061a60698"}, "The recipient (to) must be an international number"),
        ({"to": None}, "The to field is required."),
        ({"priority": "urgent"}, "The priority must be"),
        ({"coding": 3}, "The coding must be"),
        ({"expireIn": 359}, "The expireIn must be"),
        ({"expireIn": 432001}, "The expireIn must be"),
        ({"testMode": "3"}, "The testMode must be"),
        ({"testMode": 1}, "The testMode must be"),
        ({"scheduled": "tomorrow"}, "The scheduled time must be ISO 8601"),
        ({"udh": "%05%00"}, "The udh field requires coding."),
        ({"correctBy": "ZZ", "to": "861860698"}, "The correctBy must be"),
        ({"correctBy": "LT", "to": "12"}, "The recipient could not be corrected for LT"),
        ({"dlrUrl": "not a url"}, "The dlrUrl field must be an http(s) URL."),
        ({"coding": 0, "message": "x" * 161}, "With coding and no udh"),
    ],
)
def test_send_sms_rejects_like_vertexsms(api: httpx2.Client, changes: dict[str, Any], message: str) -> None:
    """Invalid sends are 400 with {"message": ...}."""
    body = {k: v for k, v in sms(**changes).items() if v is not None}
    response = api.post("/sms", json=body)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]"])
def test_send_sms_needs_a_json_object(api: httpx2.Client, content: bytes) -> None:
    """A body that is not a JSON object is 400."""
    response = api.post("/sms", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]


ROUTES = [
    ("POST", "/sms", "sms:send", SMS),
    ("GET", "/rates/?format=json", "sms:rates", None),
    ("POST", "/senderId", "sender:write", {"name": "Shop", "type": "AlphaNumeric"}),
    ("POST", "/senderId/confirm/1", "sender:write", {"code": "12345"}),
    ("POST", "/hlr", "hlr:lookup", {"msisdn": "37061860698", "callBackUrl": "https://example.com/hlr"}),
    ("GET", "/operators/1101", "numbers:read", None),
    ("GET", "/mccmnc/LT", "numbers:read", None),
]


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_missing_and_unknown_tokens_are_401(
    plain: httpx2.Client, method: str, path: str, scope: str, body: dict[str, Any] | None
) -> None:
    """No token, or a token VertexSMS does not know, fails authentication."""
    for headers in ({}, {"X-VertexSMS-Token": "nope"}):
        response = plain.request(method, path, json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["message"].startswith("Authentication failed: ")


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_a_token_without_the_routes_permission_is_403(
    emu: Emulator, plain: httpx2.Client, method: str, path: str, scope: str, body: dict[str, Any] | None
) -> None:
    """Each route needs its own scope; every other scope is not enough."""
    token = f"all-but-{scope}"
    emu.add_token(token, ALL_SCOPES - {scope})
    response = plain.request(method, path, json=body, headers={"X-VertexSMS-Token": token})
    assert response.status_code == 403
    assert scope in response.json()["message"]


def test_the_token_may_come_in_the_at_query_parameter(plain: httpx2.Client) -> None:
    """?at=<token> authenticates like the header does."""
    response = plain.get("/operators/1101", params={"at": SANDBOX_TOKEN})
    assert response.status_code == 200


def test_tokens_can_be_added_removed_and_checked_by_a_hook(emu: Emulator, plain: httpx2.Client) -> None:
    """add_token / remove_token take effect at once; token_check resolves other tokens."""
    url = "/mccmnc/LV"
    emu.add_token("temp", {"numbers:read"})
    assert plain.get(url, headers={"X-VertexSMS-Token": "temp"}).status_code == 200
    emu.remove_token("temp")
    assert plain.get(url, headers={"X-VertexSMS-Token": "temp"}).status_code == 401
    seen: list[str] = []

    def check(token: str) -> frozenset[str] | None:
        seen.append(token)
        return frozenset({"numbers:read"}) if token == "issued" else None

    emu.token_check = check
    try:
        assert plain.get(url, headers={"X-VertexSMS-Token": "issued"}).status_code == 200
        assert plain.get(url, headers={"X-VertexSMS-Token": "other"}).status_code == 401
    finally:
        emu.token_check = None
    assert seen == ["issued", "other"]


@pytest.mark.parametrize("path", ["/rates/", "/rates"])
def test_rates_card(api: httpx2.Client, path: str) -> None:
    """The rate card is an array of rows with string MCC/MNC and a 4-decimal EUR price."""
    response = api.get(path, params={"format": "json"})
    assert response.status_code == 200
    rows = response.json()
    assert {r["CountryCode"] for r in rows} >= {"LT", "LV", "EE", "PL", "DE", "GB", "US", "FR", "ES", "IT"}
    for row in rows:
        assert set(row) == {"CountryName", "CountryCode", "Operator", "Network", "MCC", "MNC", "Rate"}
        assert re.fullmatch(r"\d{3}", row["MCC"])
        assert row["MNC"] is None or re.fullmatch(r"\d{2,3}", row["MNC"])
        assert re.fullmatch(r"\d+\.\d{4}", row["Rate"])
    defaults = [r for r in rows if r["Operator"] == "All other carriers"]
    assert defaults
    assert all(r["MNC"] is None for r in defaults)
    lt = [r for r in rows if r["CountryCode"] == "LT"]
    assert lt[0]["CountryName"] == "Lithuania"


def test_rates_csv_and_bad_format(api: httpx2.Client) -> None:
    """format=csv gives CSV with the same columns; another format is 400."""
    csv = api.get("/rates/", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "CountryName,CountryCode,Operator,Network,MCC,MNC,Rate"
    assert api.get("/rates/", params={"format": "xml"}).status_code == 400


def test_register_alphanumeric_sender(api: httpx2.Client) -> None:
    """A new alphanumeric sender answers 200 text/plain with its numeric id; a repeat is 409."""
    body = {"name": "Shop-1", "type": "AlphaNumeric", "category": "Brand", "categoryDescription": "Our brand"}
    response = api.post("/senderId", json={**body, "notificationUrl": "https://example.com/s"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.isdigit()
    again = api.post("/senderId", json={**body, "name": "SHOP-1"})
    assert again.status_code == 409
    assert "already registered" in again.json()["message"]


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "ab"},
        {"name": "TwelveChars1"},
        {"name": "Shop Name"},
        {"category": "Person"},
        {"categoryDescription": ""},
        {"type": "Alpha"},
        {"notificationUrl": "ftp://x"},
    ],
)
def test_register_sender_validation(api: httpx2.Client, changes: dict[str, Any]) -> None:
    """Bad names, categories, types and URLs are 400."""
    body = {"name": "Valid_Name", "type": "AlphaNumeric", "category": "Company", "categoryDescription": "Why"}
    response = api.post("/senderId", json={**body, **changes})
    assert response.status_code == 400
    assert response.json()["message"]


def test_msisdn_sender_is_confirmed_with_the_sandbox_pin(api: httpx2.Client) -> None:
    """Register an MSISDN sender, fail with a wrong PIN, confirm with 12345, then 409."""
    response = api.post("/senderId", json={"name": "37069555555", "type": "MSISDN"})
    assert response.status_code == 200
    sender_id = int(response.text)
    wrong = api.post(f"/senderId/confirm/{sender_id}", json={"code": "54321"})
    assert wrong.status_code == 400
    ok = api.post(f"/senderId/confirm/{sender_id}", json={"code": SANDBOX_PIN})
    assert (ok.status_code, ok.text, ok.headers["content-type"].split(";")[0]) == (200, "OK", "text/plain")
    assert api.post(f"/senderId/confirm/{sender_id}", json={"code": SANDBOX_PIN}).status_code == 409
    assert SANDBOX_PIN == "12345"


def test_confirm_errors(api: httpx2.Client) -> None:
    """Unknown id is 404, an alphanumeric sender is 409, a missing code is 400."""
    assert api.post("/senderId/confirm/999999", json={"code": "12345"}).status_code == 404
    alpha = {"name": "NoPin", "type": "AlphaNumeric", "category": "Other", "categoryDescription": "Test"}
    alpha_id = api.post("/senderId", json=alpha).text
    assert api.post(f"/senderId/confirm/{alpha_id}", json={"code": "12345"}).status_code == 409
    assert api.post(f"/senderId/confirm/{alpha_id}", json={}).status_code == 400
    assert api.post("/senderId", json={"name": "12", "type": "MSISDN"}).status_code == 400


def test_hlr_lookup(api: httpx2.Client) -> None:
    """An HLR lookup answers [numeric id]; both fields are required."""
    body = {"msisdn": "37061860698", "callBackUrl": "https://example.com/hlr"}
    response = api.post("/hlr", json=body)
    assert response.status_code == 200
    (lookup_id,) = response.json()
    assert isinstance(lookup_id, int)
    assert api.post("/hlr", json={"msisdn": "37061860698"}).status_code == 400
    assert api.post("/hlr", json={**body, "msisdn": "abc"}).status_code == 400
    assert api.post("/hlr", json={"callBackUrl": "https://example.com/hlr"}).status_code == 400


def test_operator_by_id(api: httpx2.Client) -> None:
    """GET /operators/{id} gives name, country, mcc and the MNC list; unknown ids are 404."""
    response = api.get("/operators/1101")
    assert response.json() == {"name": "Telia Lietuva", "country": "LT", "mcc": "246", "mnc": ["01"]}
    missing = api.get("/operators/42")
    assert missing.status_code == 404
    assert missing.json()["message"]
    assert api.get("/operators/abc").status_code == 404


def test_mccmnc_pages_of_ten(api: httpx2.Client) -> None:
    """Germany has 13 rows: 10 on page 1 (the default), 3 on page 2, none on page 3."""
    first = api.get("/mccmnc/DE").json()
    assert first == api.get("/mccmnc/DE", params={"Page": 1}).json()
    second = api.get("/mccmnc/DE", params={"Page": 2}).json()
    third = api.get("/mccmnc/de", params={"Page": 3}).json()
    assert (len(first), len(second), third) == (10, 3, [])
    assert set(first[0]) == {"country", "mcc", "mnc", "operatorId"}
    assert {r["operatorId"] for r in first + second} == {1501, 1502, 1503, 1523}
    assert all(r["country"] == "DE" and r["mcc"] == "262" for r in first + second)


def test_mccmnc_errors(api: httpx2.Client) -> None:
    """Unknown country is 404; a bad page number is 400."""
    assert api.get("/mccmnc/ZZ").status_code == 404
    assert api.get("/mccmnc/LT", params={"Page": 0}).status_code == 400
    assert api.get("/mccmnc/LT", params={"Page": "x"}).status_code == 400


def test_unknown_paths_and_methods_answer_json(api: httpx2.Client) -> None:
    """404 and 405 keep the {"message"} body."""
    missing = api.get("/nowhere")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    wrong = api.get("/sms")
    assert wrong.status_code == 405
    assert wrong.json() == {"message": "Method Not Allowed"}
