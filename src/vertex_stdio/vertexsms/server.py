"""build_server(): the MCP server with the ten tools, its services and its error envelope.

A tool is registered with the SDK (its argument and result models built: ~1.5 MB of a
``serve`` process, issue 22) when it is first called, not at start-up; ``tools/list`` is
answered from the tools manifest, which tests/vertexsms/test_tools_manifest.py proves equal to
what the SDK answers with every tool registered (``VertexServer.offer_all``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent
from mcp.types import Tool as MCPTool
from pydantic import BaseModel, ValidationError

from vertex_stdio import __version__
from vertex_stdio.core.credentials import TokenProvider
from vertex_stdio.core.errors import InvalidInput, UpstreamError, VertexError
from vertex_stdio.mcpio.sdklogging import sdk_logging_skipped
from vertex_stdio.vertexsms.api.remote import HostedMcpUpstream
from vertex_stdio.vertexsms.api.rest import RestUpstream
from vertex_stdio.vertexsms.results import SANDBOX_META, SANDBOX_NOTE, error_text, result_parts
from vertex_stdio.vertexsms.settings import Settings
from vertex_stdio.vertexsms.tools.base import Services
from vertex_stdio.vertexsms.tools.catalog import TOOL_NAMES, TOOLS, ToolSpec
from vertex_stdio.vertexsms.tools.rates import RateCard

if TYPE_CHECKING:  # loaded at their first use (``Services``): a session that never sends never does
    from vertex_stdio.vertexsms.approval import Approvals
    from vertex_stdio.vertexsms.journal import SendJournal

log = logging.getLogger(__name__)

INSTRUCTIONS = """Tools for VertexSMS, an SMS platform. send_sms and lookup_hlr cost money and \
reach real people: call them only when the user asked, exactly once, and never repeat one whose \
outcome is reported unknown (look it up with get_sms_status instead). Check what a message costs \
with quote_sms (free), prices with get_sms_rates, and clean up numbers with correct_phone_number \
first; "sent" means accepted, not delivered: get_sms_status tells delivery. Errors are JSON: {"error": {"code", "message", "retryable"}}; \
follow the message's advice."""

TEST_MODE_NOTE = (
    "[TEST MODE] VERTEXSMS_TEST_MODE={mode} is set: VertexSMS emulated the delivery "
    "({outcome}); no real SMS was sent."
)


class VertexServer(MCPServer[Services]):
    """MCPServer whose every tool failure is the contract's JSON envelope, and nothing else.

    ``specs`` (our tools) are registered with the SDK one by one as they are first called (``offer``);
    ``tools/list`` answers the manifest's list while any is not (see the module's docstring).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        config_error: str | None = None,
        specs: Sequence[ToolSpec] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._vertex_settings = settings
        self._config_error = misconfigured(config_error) if config_error else None
        self._order = [spec.name for spec in specs]
        self._unoffered = {spec.name: spec for spec in specs}
        self._listed: list[MCPTool] | None = None
        _advertise_tools_only(self)

    def offer(self, name: str) -> None:
        """Register the tool ``name`` with the SDK, unless it is (or is not one of ours)."""
        spec = self._unoffered.pop(name, None)
        if spec is None:
            return
        prefix = "[SANDBOX: emulated, nothing is sent or billed] " if self._vertex_settings.sandbox else ""
        self.add_tool(
            spec.fn,
            name=spec.name,
            title=spec.title,
            description=prefix + spec.description,
            annotations=spec.annotations,
            meta={"vertex-stdio/scope": spec.scope},
            structured_output=True,
        )

    def offer_all(self) -> None:
        """Register every tool (what the manifest is generated from)."""
        for name in self._order:
            self.offer(name)

    async def list_tools(self) -> list[MCPTool]:
        """The manifest's tools while some are not registered (no model built for them); else,
        or with no manifest for this version, the SDK's, every tool registered, in ``TOOLS``' order."""
        if self._unoffered:
            if self._listed is None:
                self._listed = _manifest_tools(self._vertex_settings.sandbox)
            if self._listed:
                return list(self._listed)
            self.offer_all()
        listed = await super().list_tools()
        order = {name: index for index, name in enumerate(self._order)}
        return sorted(listed, key=lambda tool: order.get(tool.name, len(order)))

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Services, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        self.offer(name)
        sandbox = self._vertex_settings.sandbox
        refusal = self._config_error or self._unknown_arguments(name, arguments)
        if refusal:
            return _error_result(name, refusal, sandbox=sandbox)
        try:
            result = await self._run_tool(name, arguments, context)
        except MCPError:
            raise
        except ToolError as exc:
            return _error_result(name, _as_vertex_error(name, exc), sandbox=sandbox)
        if isinstance(result, CallToolResult):
            self._annotate(name, result)
        return result

    def _unknown_arguments(self, name: str, arguments: dict[str, Any]) -> InvalidInput | None:
        """``INVALID_INPUT`` naming the arguments ``name``'s input schema does not declare.

        Read from the registered tool's input schema (what ``tools/list`` lists), so an argument
        a tool gains is allowed with no change here.
        """
        tool = self._tool_manager.get_tool(name)  # ``call_tool`` offered it first
        known = frozenset(tool.parameters.get("properties", {})) if tool is not None else None
        extra = sorted(set(arguments) - known) if known is not None else []
        if not extra:
            return None
        listed = ", ".join(f"`{a}`" for a in sorted(known or ())) or "none"
        return InvalidInput(
            f"{name} has no argument{'s' if len(extra) > 1 else ''} {', '.join(f'`{a}`' for a in extra)}; its arguments are {listed}. "
            "Remove the unknown ones and call again.",
            fields=extra,
        )

    async def _run_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Services, Any] | None
    ) -> CallToolResult | InputRequiredResult:
        """The tool's result, converted once.

        Our tools return their own typed models, valid by construction; the SDK would validate
        each again against that same model before dumping it (tens of microseconds a call).
        Anything else is converted by the SDK as usual.
        """
        tool = self._tool_manager.get_tool(name)
        if tool is None or context is None:
            return await super().call_tool(name, arguments, context)
        result = await tool.run(arguments, context)
        meta = tool.fn_metadata
        if isinstance(result, BaseModel) and type(result) is meta.output_model and not meta.wrap_output:
            text, structured = result_parts(result)  # as the SDK writes it
            return CallToolResult(
                content=[TextContent(type="text", text=text)], structured_content=structured
            )
        try:
            return meta.convert_result(result)
        except Exception as exc:  # as tool.run(convert_result=True) reports a result it cannot convert
            raise UnexpectedToolError(f"Error executing tool {name}") from exc

    def _annotate(self, name: str, result: CallToolResult) -> None:
        """Mark sandbox and test-mode results so nobody mistakes them for real sends."""
        settings = self._vertex_settings
        if settings.sandbox:
            result.content.append(TextContent(type="text", text=SANDBOX_NOTE))
            result.meta = {**(result.meta or {}), SANDBOX_META: True}
        elif settings.test_mode and name == "send_sms":
            outcome = "delivered" if settings.test_mode == "1" else "failed"
            note = TEST_MODE_NOTE.format(mode=settings.test_mode, outcome=outcome)
            result.content.append(TextContent(type="text", text=note))


def _manifest_tools(sandbox: bool) -> list[MCPTool]:
    """The tools of the manifest written for this version (the latest protocol version's list:
    the SDK's own model of a tool is the same for all), or [] when there is none."""
    from vertex_stdio.vertexsms.manifest import load

    manifest = load(sandbox=sandbox)
    if manifest is None:
        return []
    return [MCPTool.model_validate(tool) for tool in manifest.tools[manifest.versions[-1]]["tools"]]


def misconfigured(problem: str) -> InvalidInput:
    """The error every call answers while a setting is wrong: which one, and where to fix it."""
    found = re.search(r"VERTEXSMS_[A-Z_]+", problem)
    setting = found.group() if found else None
    return InvalidInput(
        f"vertex-stdio is misconfigured, so no tool can run (your arguments are fine): {problem} "
        f"Fix {setting or 'the setting'} where this server is configured (Claude Desktop: Settings → "
        "Extensions → VertexSMS → Configure; other clients: the env of its entry in the client's "
        "config), then restart the server. Nothing was sent.",
        setting=setting,
    )


def _error_result(name: str, error: VertexError, *, sandbox: bool = False) -> CallToolResult:
    """The contract's tool error for ``error`` (``results.error_text``)."""
    text = error_text(name, error, sandbox=sandbox)
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


# What MCPServer registers for prompts and resources; we have neither, so we do not advertise them.
_UNUSED_METHODS = (
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/read",
    "resources/templates/list",
)


def _advertise_tools_only(server: MCPServer[Any]) -> None:
    """Drop the prompt and resource handlers, so ``initialize`` advertises only ``tools``.

    The low-level server derives its capabilities from its handlers and has no public way to
    remove one; tests/test_stdio.py checks the real process's ``initialize`` result.
    """
    handlers = server._lowlevel_server._request_handlers
    for method in _UNUSED_METHODS:
        handlers.pop(method, None)


def _as_vertex_error(name: str, exc: ToolError) -> VertexError:
    """Our error for whatever the SDK raised: ours, a schema failure, an unknown tool or a bug."""
    cause = exc.__cause__
    if isinstance(cause, VertexError):
        return cause
    if isinstance(cause, ValidationError):
        return InvalidInput(_validation_message(name, cause), fields=_fields(cause))
    if cause is None and str(exc).startswith("Unknown tool"):
        return InvalidInput(f"There is no tool named {name!r}. The tools are: {', '.join(TOOL_NAMES)}.")
    log.error("%s crashed", name, exc_info=cause or exc)
    return UpstreamError(
        f"vertex-stdio failed unexpectedly while running {name} ({type(cause or exc).__name__}); "
        "nothing more is known. The details are in vertex-stdio's log file; please report it."
    )


def _fields(error: ValidationError) -> list[str]:
    return sorted({".".join(str(p) for p in e["loc"]) or "(arguments)" for e in error.errors()})


def _validation_message(name: str, error: ValidationError) -> str:
    """Field names and rules only: the rejected values are the caller's data."""
    problems = []
    for e in error.errors()[:10]:
        where = ".".join(str(p) for p in e["loc"]) or "(arguments)"
        problems.append(f"`{where}`: {e['msg']}")
    return f"Invalid arguments for {name}: " + "; ".join(problems) + ". Fix them and call again."


Lifespan = Callable[[MCPServer[Services]], AbstractAsyncContextManager[Services]]


def make_lifespan(
    settings: Settings,
    tokens: TokenProvider,
    transport: httpx2.AsyncBaseTransport | None = None,
    journal: SendJournal | None = None,
    approvals: Approvals | None = None,
    hosted: HostedMcpUpstream | None = None,
) -> Lifespan:
    """Services for the process: one REST client, one hosted-MCP connection, one rate card,
    one send journal (``journal``, default: the settings' in the state directory), one set of
    browser approvals (``approvals``, default: opened in the system browser), those two made
    (and their modules imported) at their first use.  A ``hosted`` connection given (shared
    with the lean call path) is its giver's to close."""

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Services]) -> AsyncIterator[Services]:
        rest = RestUpstream(settings.api_url, tokens, timeout=settings.http_timeout, transport=transport)
        upstream = hosted or HostedMcpUpstream(
            settings.mcp_url, tokens, timeout=settings.http_timeout, transport=transport
        )
        sends, pages = journal, approvals  # given, or made at the first call that asks for them
        try:
            async with anyio.create_task_group() as watching:

                def journal_of() -> SendJournal:
                    nonlocal sends
                    sends = _settings_journal(settings) if sends is None else sends
                    watching.start_soon(sends.watch)
                    return sends

                def approvals_of() -> Approvals:
                    nonlocal pages
                    pages = _browser_approvals() if pages is None else pages
                    return pages

                try:
                    yield Services(
                        settings,
                        tokens,
                        rest,
                        upstream,
                        RateCard(rest, tokens),
                        journal_of,
                        approvals_of=approvals_of,
                    )
                finally:
                    watching.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                if pages is not None:
                    await pages.aclose()
                if sends is not None:
                    await sends.aclose()
                if hosted is None:
                    await upstream.aclose()
                await rest.aclose()

    return lifespan


def _settings_journal(settings: Settings) -> SendJournal:
    from vertex_stdio.vertexsms.journal import journal_for

    return journal_for(settings)


def _browser_approvals() -> Approvals:
    from vertex_stdio.vertexsms.approval import Approvals

    return Approvals()


def build_server(
    settings: Settings,
    tokens: TokenProvider,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    journal: SendJournal | None = None,
    config_error: str | None = None,
    approvals: Approvals | None = None,
    hosted: HostedMcpUpstream | None = None,
) -> VertexServer:
    """The MCP server with the ten tools (each registered with the SDK at its first call:
    ``VertexServer.offer``); nothing touches the network until a tool is called.

    With ``config_error`` (a setting that did not validate) the tools are listed as usual and
    every call answers that error, so the person sees it in their client.  ``hosted`` is a
    hosted-MCP connection to share (``make_lifespan``).
    """
    sandbox = " (sandbox)" if settings.sandbox else ""
    with sdk_logging_skipped():  # our logs are set up: the SDK's would only import rich
        server = VertexServer(
            settings,
            config_error=config_error,
            name="vertex-stdio",
            title="VertexSMS" + sandbox,
            version=__version__,
            instructions=(SANDBOX_NOTE + "\n\n" if settings.sandbox else "") + INSTRUCTIONS,
            website_url="https://vertexsms.com",
            lifespan=make_lifespan(settings, tokens, transport, journal, approvals, hosted),
            specs=TOOLS,
        )
    return server
