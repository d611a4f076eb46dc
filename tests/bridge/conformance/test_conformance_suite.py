"""The official MCP conformance suite's client scenarios, through ``vertex-stdio connect``.

One suite run (all scenarios at once, each bounded) per test session; each scenario is one test.
A scenario passes when it recorded at least one check and none failed or warned.  A scenario
listed in ``EXPECTED_FAILURES`` is a strict xfail naming its cause: it fails the run the day it
passes, so the list only shrinks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance.suite import Verdict, run_all, scenarios, suite_ready, verdict

pytestmark = [pytest.mark.slow, pytest.mark.skipif(suite_ready() is not None, reason=str(suite_ready()))]

SCENARIOS = (
    "initialize",
    "tools_call",
    "elicitation-sep1034-client-defaults",
    "sse-retry",
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/basic-cimd",
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/pre-registration",
    "auth/2025-03-26-oauth-metadata-backcompat",
    "auth/2025-03-26-oauth-endpoint-fallback",
    "auth/resource-mismatch",
    "auth/offline-access-scope",
    "auth/offline-access-not-supported",
    "auth/client-credentials-jwt",
    "auth/client-credentials-basic",
    "auth/cross-app-access-complete-flow",
)

RFC_8414_ISSUER = (
    "RFC 8414 §3.3: the metadata at the origin names issuer <origin>/oauth, not the origin its URL was "
    "built from, and such metadata MUST NOT be used (the suite expects its /oauth endpoints to be)"
)
EXPECTED_FAILURES = {
    "auth/2025-03-26-oauth-metadata-backcompat": RFC_8414_ISSUER,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of every client scenario; the folder of its results."""
    output = tmp_path_factory.mktemp("conformance")
    summary = run_all(output)
    (output / "summary.txt").write_text(summary)
    return output


def test_the_pinned_suite_lists_exactly_these_scenarios() -> None:
    assert scenarios() == list(SCENARIOS)


def _param(name: str) -> object:
    cause = EXPECTED_FAILURES.get(name)
    marks = [pytest.mark.xfail(reason=cause, strict=True)] if cause else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("scenario", [_param(name) for name in SCENARIOS])
def test_scenario_passes_through_connect(results: Path, scenario: str) -> None:
    outcome: Verdict = verdict(results, scenario)
    assert outcome.ok, outcome.explain()
