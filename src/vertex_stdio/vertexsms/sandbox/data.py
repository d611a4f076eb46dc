"""The emulator's sample world: countries, operators, number ranges and rates. Pure constants.

One source for the REST endpoints (``/rates/``, ``/operators/{id}``, ``/mccmnc/{country}``,
destination checks on ``/sms`` and ``/hlr``) and the hosted MCP tools
(``correct_phone_number``, ``get_mobile_prefixes``).  Calling codes, MCCs and operator
names are real; MNCs are the operators' real or plausible ones; the number ranges given to
each operator are plausible original allocations (number portability makes any real
prefix-to-operator table approximate anyway); operator ids and rates are invented and
stable.  Germany has 13 MCC/MNC rows so that ``/mccmnc`` paging is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operator:
    """A mobile network operator as VertexSMS knows it.

    ``prefixes`` are national-significant-number prefixes of its mobile ranges (without
    the calling code or trunk prefix); ``rate`` is the price of one SMS part in EUR.
    """

    id: int
    country: str
    name: str
    network: str
    mcc: str
    mncs: tuple[str, ...]
    prefixes: tuple[str, ...]
    rate: str


@dataclass(frozen=True)
class Country:
    """A destination the sandbox account can reach, with its numbering plan.

    ``trunk_prefix`` is dialled before a national number ('' when the plan has none);
    ``mobile_ranges``/``landline_prefixes`` are the leading digits of each kind (operators
    hold finer prefixes inside the mobile ranges); ``*_lengths`` are
    national-significant-number lengths; ``nanp`` marks a plan whose
    numbers do not tell mobile from landline (then ``nanp_pattern`` decides validity);
    ``default_rate`` adds an "All other carriers" row to the rate card.
    """

    iso2: str
    name: str
    calling_code: str
    mcc: str
    trunk_prefix: str
    mobile_ranges: tuple[str, ...]
    mobile_lengths: tuple[int, ...]
    landline_prefixes: tuple[str, ...]
    landline_lengths: tuple[int, ...]
    default_rate: str | None = None
    nanp: bool = False


_PL_MOBILE = ("45", "50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88")

COUNTRY_LIST: tuple[Country, ...] = (
    Country("LT", "Lithuania", "370", "246", "8", ("6",), (8,), ("3", "4", "5"), (8,), "0.0450"),
    Country("LV", "Latvia", "371", "247", "", ("2",), (8,), ("6",), (8,)),
    Country("EE", "Estonia", "372", "248", "", ("5", "81", "82"), (7, 8), ("3", "4", "6", "7"), (7,)),
    Country(
        "PL",
        "Poland",
        "48",
        "260",
        "",
        _PL_MOBILE,
        (9,),
        ("12", "22", "32", "58", "61", "71"),
        (9,),
        "0.0300",
    ),
    Country(
        "DE",
        "Germany",
        "49",
        "262",
        "0",
        ("15", "16", "17"),
        (10, 11),
        tuple("2346789"),
        (6, 7, 8, 9, 10, 11),
    ),
    Country("GB", "United Kingdom", "44", "234", "0", ("7",), (10,), ("1", "2"), (9, 10), "0.0400"),
    Country("US", "United States", "1", "310", "1", (), (10,), (), (10,), nanp=True),
    Country("FR", "France", "33", "208", "0", ("6", "7"), (9,), ("1", "2", "3", "4", "5"), (9,), "0.0700"),
    Country("ES", "Spain", "34", "214", "", ("6", "71", "72", "73", "74"), (9,), ("8", "9"), (9,)),
    Country("IT", "Italy", "39", "222", "", ("3",), (9, 10), ("0",), (6, 7, 8, 9, 10, 11)),
    Country("NL", "Netherlands", "31", "204", "0", ("6",), (9,), ("1", "2", "3", "4", "5", "7"), (9,)),
    Country(
        "SE", "Sweden", "46", "240", "0", ("70", "72", "73", "76", "79"), (9,), tuple("1234568"), (7, 8, 9)
    ),
)

_T = tuple[str, ...]


def _op(
    op_id: int, iso2: str, name: str, network: str, mcc: str, mncs: _T, prefixes: _T, rate: str
) -> Operator:
    return Operator(op_id, iso2, name, network, mcc, mncs, prefixes, rate)


OPERATOR_LIST: tuple[Operator, ...] = (
    # Lithuania
    _op(1101, "LT", "Telia Lietuva", "Telia", "246", ("01",), ("61", "62", "65", "67", "68"), "0.0390"),
    _op(1102, "LT", "Bite Lietuva", "Bite", "246", ("02",), ("60", "64", "69"), "0.0390"),
    _op(1103, "LT", "Tele2 Lietuva", "Tele2", "246", ("03",), ("63", "66"), "0.0370"),
    # Latvia
    _op(1201, "LV", "Latvijas Mobilais Telefons", "LMT", "247", ("01",), ("26", "29"), "0.0420"),
    _op(1202, "LV", "Tele2 Latvia", "Tele2", "247", ("02",), ("25", "28"), "0.0410"),
    _op(1205, "LV", "Bite Latvija", "Bite", "247", ("05",), ("20", "22", "23"), "0.0410"),
    # Estonia
    _op(1301, "EE", "Telia Eesti", "Telia", "248", ("01",), ("50", "52", "81"), "0.0450"),
    _op(1302, "EE", "Elisa Eesti", "Elisa", "248", ("02",), ("53", "55", "56", "82"), "0.0450"),
    _op(1303, "EE", "Tele2 Eesti", "Tele2", "248", ("03",), ("51", "54", "58"), "0.0430"),
    # Poland
    _op(1401, "PL", "Polkomtel", "Plus", "260", ("01",), ("601", "603", "605", "691", "693"), "0.0260"),
    _op(1402, "PL", "T-Mobile Polska", "T-Mobile", "260", ("02",), ("602", "604", "606", "692"), "0.0260"),
    _op(1403, "PL", "Orange Polska", "Orange", "260", ("03",), ("500", "501", "502", "510", "511"), "0.0260"),
    _op(1406, "PL", "P4", "Play", "260", ("06",), ("530", "533", "535", "790", "791", "792"), "0.0250"),
    # Germany
    _op(
        1501,
        "DE",
        "Telekom Deutschland",
        "Telekom",
        "262",
        ("01", "06", "78"),
        ("151", "160", "170", "171", "175"),
        "0.0750",
    ),
    _op(
        1502,
        "DE",
        "Vodafone GmbH",
        "Vodafone",
        "262",
        ("02", "04", "09"),
        ("152", "162", "172", "173", "174"),
        "0.0750",
    ),
    _op(
        1503,
        "DE",
        "Telefonica Germany",
        "O2",
        "262",
        ("03", "05", "07", "08", "11", "77"),
        ("157", "159", "163", "176", "177", "178", "179"),
        "0.0720",
    ),
    _op(1523, "DE", "1&1 Mobilfunk", "1&1", "262", ("23",), ("1556", "1566"), "0.0720"),
    # United Kingdom
    _op(
        1610, "GB", "Telefonica UK", "O2", "234", ("10", "11"), ("751", "752", "771", "772", "784"), "0.0340"
    ),
    _op(1615, "GB", "Vodafone UK", "Vodafone", "234", ("15",), ("770", "774", "776", "778", "798"), "0.0340"),
    _op(
        1620, "GB", "Hutchison 3G UK", "Three", "234", ("20",), ("737", "738", "739", "745", "788"), "0.0330"
    ),
    _op(
        1630,
        "GB",
        "EE",
        "EE",
        "234",
        ("30", "33", "34"),
        ("740", "741", "742", "753", "790", "795"),
        "0.0340",
    ),
    # United States.  Real NANP numbers do not reveal mobile or operator; the sandbox gives each
    # operator blocks of the fictional 555-01xx lines, so its sample number is a mobile here and
    # every other valid US number stays "unknown".
    _op(1701, "US", "AT&T Mobility", "AT&T", "310", ("150", "170", "410"), ("20255501",), "0.0085"),
    _op(1702, "US", "T-Mobile USA", "T-Mobile", "310", ("160", "200", "210", "260"), ("20655501",), "0.0085"),
    _op(1703, "US", "Verizon Wireless", "Verizon", "311", ("480", "481", "482"), ("41555501",), "0.0085"),
    # France
    _op(
        1801,
        "FR",
        "Orange France",
        "Orange",
        "208",
        ("01", "02"),
        ("607", "608", "630", "670", "685"),
        "0.0650",
    ),
    _op(1810, "FR", "SFR", "SFR", "208", ("10", "11"), ("603", "610", "611", "620", "622"), "0.0650"),
    _op(
        1815, "FR", "Free Mobile", "Free", "208", ("15", "16"), ("651", "652", "695", "766", "767"), "0.0620"
    ),
    _op(
        1820,
        "FR",
        "Bouygues Telecom",
        "Bouygues",
        "208",
        ("20", "21"),
        ("660", "661", "662", "698", "781"),
        "0.0640",
    ),
    # Spain
    _op(
        1901,
        "ES",
        "Vodafone Espana",
        "Vodafone",
        "214",
        ("01", "06"),
        ("607", "610", "617", "667", "677"),
        "0.0550",
    ),
    _op(
        1903,
        "ES",
        "Orange Espagne",
        "Orange",
        "214",
        ("03", "09"),
        ("615", "620", "636", "656", "666"),
        "0.0550",
    ),
    _op(1904, "ES", "Xfera Moviles", "Yoigo", "214", ("04",), ("622", "633", "711", "722"), "0.0530"),
    _op(
        1907,
        "ES",
        "Telefonica Moviles Espana",
        "Movistar",
        "214",
        ("05", "07"),
        ("609", "619", "629", "639", "659"),
        "0.0560",
    ),
    # Italy (landline numbers keep their leading 0)
    _op(
        2001,
        "IT",
        "Telecom Italia",
        "TIM",
        "222",
        ("01",),
        ("330", "333", "335", "338", "339", "360", "366", "368"),
        "0.0690",
    ),
    _op(
        2010,
        "IT",
        "Vodafone Italia",
        "Vodafone",
        "222",
        ("10",),
        ("340", "342", "345", "346", "347", "348", "349"),
        "0.0690",
    ),
    _op(
        2088,
        "IT",
        "Wind Tre",
        "WINDTRE",
        "222",
        ("88", "99"),
        ("320", "327", "328", "329", "380", "388", "389", "393"),
        "0.0680",
    ),
    _op(2050, "IT", "Iliad Italia", "iliad", "222", ("50",), ("351", "352"), "0.0660"),
    # Netherlands
    _op(
        2104,
        "NL",
        "Vodafone Libertel",
        "Vodafone",
        "204",
        ("04",),
        ("610", "613", "615", "620", "627", "650"),
        "0.0800",
    ),
    _op(2108, "NL", "KPN Mobile", "KPN", "204", ("08",), ("612", "622", "630", "651", "653"), "0.0800"),
    _op(
        2116,
        "NL",
        "Odido",
        "Odido",
        "204",
        ("16", "20"),
        ("614", "616", "618", "624", "641", "642"),
        "0.0790",
    ),
    # Sweden
    _op(2201, "SE", "Telia Sverige", "Telia", "240", ("01",), ("701", "702", "703", "705", "730"), "0.0480"),
    _op(2202, "SE", "Hi3G Access", "Tre", "240", ("02",), ("720", "727", "728", "735"), "0.0470"),
    _op(2207, "SE", "Tele2 Sverige", "Tele2", "240", ("07",), ("704", "707", "708", "733", "760"), "0.0470"),
    _op(
        2208,
        "SE",
        "Telenor Sverige",
        "Telenor",
        "240",
        ("06", "08"),
        ("706", "709", "732", "736", "768"),
        "0.0470",
    ),
)

COUNTRIES: dict[str, Country] = {c.iso2: c for c in COUNTRY_LIST}
OPERATORS: dict[int, Operator] = {o.id: o for o in OPERATOR_LIST}


def operators_of(iso2: str) -> tuple[Operator, ...]:
    """The operators of one country, in table order."""
    return tuple(o for o in OPERATOR_LIST if o.country == iso2)


def country_of_msisdn(digits: str) -> Country | None:
    """The country whose calling code starts ``digits`` (international, no '+'), if any."""
    matches = [c for c in COUNTRY_LIST if digits.startswith(c.calling_code)]
    return max(matches, key=lambda c: len(c.calling_code), default=None)


def sample_number(iso2: str) -> str:
    """A valid mobile number of ``iso2`` in E.164, for trying the tools (the README lists them).

    The first operator's first range, filled with 2345678901 to the plan's longest mobile
    length (for the US: the fictional 202-555-0123).
    """
    country = COUNTRIES[iso2]
    prefix = operators_of(iso2)[0].prefixes[0]
    return f"+{country.calling_code}{(prefix + '2345678901')[: max(country.mobile_lengths)]}"
