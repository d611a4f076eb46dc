"""Frozen settings read from the environment (and command-line overrides); no other I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from vertex_stdio.core.errors import ConfigError
from vertex_stdio.core.urls import check_url

DEFAULT_API_URL = "https://api.vertexsms.com"
DEFAULT_MCP_URL = "https://mcp.vertexsms.com/mcp"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

TestMode = Literal["1", "2"]


def _unset(value: str | None) -> str | None:
    """Treat empty values and unexpanded MCPB placeholders (``${user_config.x}``) as unset."""
    if value is None:
        return None
    value = value.strip()
    if not value or (value.startswith("${") and value.endswith("}")):
        return None
    return value


def _flag(name: str, value: str | None) -> bool:
    value = _unset(value)
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0 (or true/false), got {value!r}.")


@dataclass(frozen=True)
class Settings:
    """Everything the program is told from outside, validated once at start-up."""

    api_token: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    mcp_url: str = DEFAULT_MCP_URL
    scopes: tuple[str, ...] | None = None
    client_id: str | None = None
    callback_port: int = 0
    test_mode: TestMode | None = None
    sandbox: bool = False
    log_level: str = "INFO"
    allow_file_store: bool = False
    signin_timeout: float = 120.0
    http_timeout: float = 30.0
    duplicate_window: int = 10
    max_parts: int = 10
    max_messages_per_day: int = 100
    max_recipients_per_day: int = 50
    max_eur_per_day: float | None = None
    confirm_sends: bool = True
    journal_days: int = 90

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> Settings:
        """Read the ``VERTEXSMS_*`` variables; ``overrides`` (command-line options) win."""
        get = env.get
        values: dict[str, Any] = {
            "api_token": _unset(get("VERTEXSMS_API_TOKEN")),
            "api_url": _unset(get("VERTEXSMS_API_URL")) or DEFAULT_API_URL,
            "mcp_url": _unset(get("VERTEXSMS_MCP_URL")) or DEFAULT_MCP_URL,
            "scopes": _scopes(_unset(get("VERTEXSMS_SCOPES"))),
            "client_id": _unset(get("VERTEXSMS_CLIENT_ID")),
            "callback_port": _port(_unset(get("VERTEXSMS_CALLBACK_PORT"))),
            "test_mode": _test_mode(_unset(get("VERTEXSMS_TEST_MODE"))),
            "sandbox": _flag("VERTEXSMS_SANDBOX", get("VERTEXSMS_SANDBOX")),
            "log_level": _log_level(_unset(get("VERTEXSMS_LOG_LEVEL")) or "INFO"),
            "allow_file_store": _flag("VERTEXSMS_ALLOW_FILE_STORE", get("VERTEXSMS_ALLOW_FILE_STORE")),
            "signin_timeout": _seconds(
                "VERTEXSMS_SIGNIN_TIMEOUT", _unset(get("VERTEXSMS_SIGNIN_TIMEOUT")), 120.0
            ),
            "http_timeout": _seconds("VERTEXSMS_HTTP_TIMEOUT", _unset(get("VERTEXSMS_HTTP_TIMEOUT")), 30.0),
            **_money_settings(get),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()

    def validated(self) -> Settings:
        """Check URLs and ranges; return a copy with normalised URLs."""
        return replace(
            self,
            api_url=check_url("VERTEXSMS_API_URL", self.api_url),
            mcp_url=check_url("VERTEXSMS_MCP_URL", self.mcp_url),
            test_mode=_test_mode(self.test_mode),
            log_level=_log_level(self.log_level),
            callback_port=_port(str(self.callback_port)),
            **_money_settings(lambda name: _as_text(getattr(self, _MONEY[name]))),
        )


# The money-safety settings: variable -> field.  ``0`` disables a limit.
_MONEY = {
    "VERTEXSMS_DUPLICATE_WINDOW": "duplicate_window",
    "VERTEXSMS_MAX_PARTS": "max_parts",
    "VERTEXSMS_MAX_MESSAGES_PER_DAY": "max_messages_per_day",
    "VERTEXSMS_MAX_RECIPIENTS_PER_DAY": "max_recipients_per_day",
    "VERTEXSMS_MAX_EUR_PER_DAY": "max_eur_per_day",
    "VERTEXSMS_CONFIRM_SENDS": "confirm_sends",
    "VERTEXSMS_JOURNAL_DAYS": "journal_days",
}
_WHOLE_DEFAULTS = {
    "VERTEXSMS_DUPLICATE_WINDOW": 10,
    "VERTEXSMS_MAX_PARTS": 10,
    "VERTEXSMS_MAX_MESSAGES_PER_DAY": 100,
    "VERTEXSMS_MAX_RECIPIENTS_PER_DAY": 50,
    "VERTEXSMS_JOURNAL_DAYS": 90,
}


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _money_settings(get: Any) -> dict[str, Any]:
    """The money-safety fields from ``get(variable)`` (text or None), validated."""
    values: dict[str, Any] = {
        _MONEY[name]: _whole(name, _unset(get(name)), default) for name, default in _WHOLE_DEFAULTS.items()
    }
    if values["journal_days"] < 1:
        raise ConfigError("VERTEXSMS_JOURNAL_DAYS must be at least 1 (the journal must keep today's sends).")
    values["max_eur_per_day"] = _eur(_unset(get("VERTEXSMS_MAX_EUR_PER_DAY")))
    confirm = _unset(get("VERTEXSMS_CONFIRM_SENDS"))
    values["confirm_sends"] = True if confirm is None else _flag("VERTEXSMS_CONFIRM_SENDS", confirm)
    return values


def _whole(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (0 turns it off), got {value!r}.") from None
    if not 0 <= number <= 1_000_000:
        raise ConfigError(f"{name} must be between 0 and 1000000, got {value!r}.")
    return number


def _eur(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        eur = float(value)
    except ValueError:
        raise ConfigError(f"VERTEXSMS_MAX_EUR_PER_DAY must be an amount in EUR, got {value!r}.") from None
    if not 0 <= eur <= 1_000_000:
        raise ConfigError(f"VERTEXSMS_MAX_EUR_PER_DAY must be between 0 and 1000000, got {value!r}.")
    return eur or None


def _scopes(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(dict.fromkeys(value.replace(",", " ").split()))


def _port(value: str | None) -> int:
    if value is None:
        return 0
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"VERTEXSMS_CALLBACK_PORT must be a number, got {value!r}.") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"VERTEXSMS_CALLBACK_PORT must be 0..65535, got {port}.")
    return port


def _test_mode(value: str | None) -> TestMode | None:
    if value is None or value in ("0", ""):
        return None
    if value == "1":
        return "1"
    if value == "2":
        return "2"
    raise ConfigError(
        f"VERTEXSMS_TEST_MODE must be 1 (emulate delivered) or 2 (emulate failed), got {value!r}."
    )


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"VERTEXSMS_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {value!r}.")
    return level


def _seconds(name: str, value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}.") from None
    if not 0 < seconds <= 3600:
        raise ConfigError(f"{name} must be more than 0 and at most 3600 seconds, got {value!r}.")
    return seconds
