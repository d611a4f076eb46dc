"""Which country an international number belongs to, by its calling code. Pure.

Only what a price estimate needs: the ISO 3166-1 alpha-2 country whose calling code is the
longest prefix of the number's digits.  NANP (+1) numbers are read as US; shared codes
(+7, +44 crown dependencies) go to the largest member.
"""

from __future__ import annotations

CALLING_CODES: dict[str, str] = {
    "1": "US", "7": "RU", "20": "EG", "27": "ZA", "30": "GR", "31": "NL", "32": "BE", "33": "FR",
    "34": "ES", "36": "HU", "39": "IT", "40": "RO", "41": "CH", "43": "AT", "44": "GB", "45": "DK",
    "46": "SE", "47": "NO", "48": "PL", "49": "DE", "51": "PE", "52": "MX", "54": "AR", "55": "BR",
    "56": "CL", "57": "CO", "60": "MY", "61": "AU", "62": "ID", "63": "PH", "64": "NZ", "65": "SG",
    "66": "TH", "81": "JP", "82": "KR", "84": "VN", "86": "CN", "90": "TR", "91": "IN", "92": "PK",
    "212": "MA", "213": "DZ", "216": "TN", "234": "NG", "254": "KE", "351": "PT", "352": "LU",
    "353": "IE", "354": "IS", "356": "MT", "357": "CY", "358": "FI", "359": "BG", "370": "LT",
    "371": "LV", "372": "EE", "373": "MD", "375": "BY", "380": "UA", "381": "RS", "382": "ME",
    "385": "HR", "386": "SI", "387": "BA", "389": "MK", "420": "CZ", "421": "SK", "423": "LI",
    "852": "HK", "886": "TW", "966": "SA", "971": "AE", "972": "IL", "974": "QA", "995": "GE",
}  # fmt: skip


def country_of(digits: str) -> str | None:
    """The country of international ``digits`` (no ``+``), or None when the code is not listed."""
    digits = digits.removeprefix("+")
    for length in (3, 2, 1):
        found = CALLING_CODES.get(digits[:length])
        if found:
            return found
    return None
