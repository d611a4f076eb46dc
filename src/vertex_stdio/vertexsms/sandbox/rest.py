"""The emulated VertexSMS REST API: routes, token checks and the ``{"message"}`` error body.

Auth as VertexSMS does it: ``X-VertexSMS-Token`` header or ``?at=``; an unknown or missing
token is 401, a token without the route's permission is 403.  Every error, including
unknown paths (404) and wrong methods (405), is ``{"message": "..."}`` with its status.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from vertex_stdio.vertexsms.sandbox import checks
from vertex_stdio.vertexsms.sandbox.data import (
    COUNTRIES,
    COUNTRY_LIST,
    OPERATORS,
    Country,
    country_of_msisdn,
    operators_of,
)
from vertex_stdio.vertexsms.sandbox.numbers import mobile_operator
from vertex_stdio.vertexsms.sandbox.state import ApiError, SandboxState

MCCMNC_PAGE_SIZE = 10
RATE_FIELDS = ("CountryName", "CountryCode", "Operator", "Network", "MCC", "MNC", "Rate")


def rate_rows() -> list[dict[str, str | None]]:
    """The whole rate card: one row per MCC/MNC, plus "All other carriers" defaults."""
    rows: list[dict[str, str | None]] = []
    for country in COUNTRY_LIST:
        for op in operators_of(country.iso2):
            rows.extend(_rate(country, op.name, op.network, op.mcc, mnc, op.rate) for mnc in op.mncs)
        if country.default_rate is not None:
            default = "All other carriers"
            rows.append(_rate(country, default, default, country.mcc, None, country.default_rate))
    return rows


def _rate(
    country: Country, operator: str, network: str, mcc: str, mnc: str | None, rate: str
) -> dict[str, str | None]:
    return {
        "CountryName": country.name,
        "CountryCode": country.iso2,
        "Operator": operator,
        "Network": network,
        "MCC": mcc,
        "MNC": mnc,
        "Rate": rate,
    }


def highest_rate(iso2: str) -> float:
    """The highest rate the rate card lists for a country (every sample country has one)."""
    return max(float(str(row["Rate"])) for row in rate_rows() if row["CountryCode"] == iso2)


def mccmnc_rows(iso2: str) -> list[dict[str, Any]]:
    """A country's MCC/MNC pairs with their operator ids, sorted by MCC then MNC."""
    rows = [
        {"country": iso2, "mcc": op.mcc, "mnc": mnc, "operatorId": op.id}
        for op in operators_of(iso2)
        for mnc in op.mncs
    ]
    return sorted(rows, key=lambda row: (row["mcc"], row["mnc"]))


class RestApi:
    """Endpoints of the REST API over one ``SandboxState``."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/sms", self.send_sms, methods=["POST"]),
            Route("/sms/cost", self.sms_cost, methods=["POST"]),
            Route("/sms/status/{message_id}", self.sms_status, methods=["GET"]),
            Route("/rates/", self.rates, methods=["GET"]),
            Route("/rates", self.rates, methods=["GET"]),
            Route("/senderId", self.register_sender, methods=["POST"]),
            Route("/senderId/confirm/{sender_id:int}", self.confirm_sender, methods=["POST"]),
            Route("/hlr", self.hlr, methods=["POST"]),
            Route("/operators/{operator_id:int}", self.operator, methods=["GET"]),
            Route("/mccmnc/{country}", self.mccmnc, methods=["GET"]),
        ]

    async def authorize(self, request: Request, scope: str) -> None:
        """401 for a missing or unknown token, 403 when it lacks ``scope``."""
        token = request.headers.get("x-vertexsms-token") or request.query_params.get("at")
        if not token:
            raise ApiError(
                401, "Authentication failed: no API token (send it in the X-VertexSMS-Token header)."
            )
        scopes = await self.state.scopes_for(token)
        if scopes is None:
            raise ApiError(401, "Authentication failed: the API token is not valid.")
        if scope not in scopes:
            route = f"{request.method} {request.url.path}"
            raise ApiError(403, f"This API token is not permitted to use {route} (permission {scope}).")

    async def send_sms(self, request: Request) -> Response:
        await self.authorize(request, "sms:send")
        body = await json_object(request)
        order = checks.check_sms(body)
        headers = {"X-VertexSMS-Amount-Sent": str(order.parts)}
        test_mode = str(body["testMode"]) if body.get("testMode") is not None else None
        return JSONResponse([self.state.next_message_id(test_mode)], headers=headers)

    async def sms_cost(self, request: Request) -> Response:
        """A quote as VertexSMS gives one: parts, country, MCC/MNC, price per part and total.

        Priced from the emulator's own rate card: the operator's rate where the number names
        one, else the country's highest rate (a NANP number names no operator).
        """
        await self.authorize(request, "sms:send")
        order = checks.check_sms(await json_object(request))
        country = country_of_msisdn(order.to)
        if country is None:  # check_sms lets no such number through; kept for the type checker
            raise ApiError(400, checks.NOT_CONFIGURED)
        op = mobile_operator(country, order.to[len(country.calling_code) :])
        rate = float(op.rate) if op else highest_rate(country.iso2)
        return JSONResponse(
            [
                {
                    "to": order.to,
                    "parts": order.parts,
                    "countryISO": country.iso2,
                    "mccmnc": f"{op.mcc}{op.mncs[0]}" if op else "",
                    "pricePerPart": rate,
                    "totalPrice": round(rate * order.parts, 4),
                    "currency": "EUR",
                }
            ]
        )

    async def sms_status(self, request: Request) -> Response:
        await self.authorize(request, "sms:send")
        return JSONResponse(self.state.message_status(request.path_params["message_id"]))

    async def rates(self, request: Request) -> Response:
        await self.authorize(request, "sms:rates")
        fmt = request.query_params.get("format", "json")
        if fmt == "json":
            return JSONResponse(rate_rows())
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=RATE_FIELDS)
            writer.writeheader()
            writer.writerows(rate_rows())
            return PlainTextResponse(out.getvalue(), media_type="text/csv")
        raise ApiError(400, "The format must be json or csv.")

    async def register_sender(self, request: Request) -> Response:
        await self.authorize(request, "sender:write")
        body = await json_object(request)
        kind = body.get("type")
        if kind == "AlphaNumeric":
            name = checks.check_alpha_sender(body)
        elif kind == "MSISDN":
            name = checks.check_msisdn_sender(body)
        else:
            raise ApiError(400, "The type must be AlphaNumeric or MSISDN.")
        return PlainTextResponse(str(self.state.register_sender(name, kind)))

    async def confirm_sender(self, request: Request) -> Response:
        await self.authorize(request, "sender:write")
        code = (await json_object(request)).get("code")
        if not isinstance(code, str | int) or isinstance(code, bool):
            raise ApiError(400, "The code field is required: the 5-digit PIN sent to the number.")
        self.state.confirm_sender(request.path_params["sender_id"], str(code))
        return PlainTextResponse("OK")

    async def hlr(self, request: Request) -> Response:
        await self.authorize(request, "hlr:lookup")
        checks.check_hlr(await json_object(request))
        return JSONResponse([self.state.next_hlr_id()])

    async def operator(self, request: Request) -> Response:
        await self.authorize(request, "numbers:read")
        op = OPERATORS.get(request.path_params["operator_id"])
        if op is None:
            raise ApiError(404, "Operator not found.")
        return JSONResponse({"name": op.name, "country": op.country, "mcc": op.mcc, "mnc": list(op.mncs)})

    async def mccmnc(self, request: Request) -> Response:
        await self.authorize(request, "numbers:read")
        iso2 = request.path_params["country"].upper()
        if iso2 not in COUNTRIES:
            raise ApiError(404, f"Country {iso2[:2]!r} not found.")
        raw_page = request.query_params.get("Page", "1")
        if not raw_page.isdigit() or int(raw_page) < 1:
            raise ApiError(400, "Page must be a whole number from 1.")
        start = (int(raw_page) - 1) * MCCMNC_PAGE_SIZE
        return JSONResponse(mccmnc_rows(iso2)[start : start + MCCMNC_PAGE_SIZE])


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, else 400."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "The request body must be JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


async def api_error(_request: Request, exc: Exception) -> Response:
    """``ApiError`` and Starlette's own 404/405 as ``{"message": ...}``."""
    if isinstance(exc, ApiError):
        return JSONResponse({"message": exc.message}, status_code=exc.status)
    if isinstance(exc, HTTPException):
        return JSONResponse({"message": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    raise exc
