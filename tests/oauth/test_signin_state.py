"""The provider's sign-in state machine, transition by transition: pure, no network, no clock."""

from __future__ import annotations

from vertex_stdio.core.credentials import Challenge
from vertex_stdio.oauth.protocol import signin_state as st
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.protocol.metadata import ServerMetadata, Target

NOW = 1_000_000.0
TOKENS = Tokens(access_token="at-1", refresh_token="rt-1", expires_at=NOW + 3600, scopes=("read",))


def _target(scopes_supported: tuple[str, ...] = ("read", "send", "offline_access")) -> Target:
    server = ServerMetadata(
        issuer="https://as.example",
        authorization_endpoint="https://as.example/authorize",
        token_endpoint="https://as.example/token",
        scopes_supported=scopes_supported,
    )
    return Target(resource="https://mcp.example/mcp", server=server, resource_scopes=())


def test_tokens_in_memory_are_used_until_they_expire_or_a_step_up_is_pending() -> None:
    state = st.adopted(st.SignInState(), TOKENS)
    assert st.usable(state, NOW) is TOKENS
    assert st.usable(state, NOW + 3600) is None  # expired
    stepped, again = st.after_rejection(
        state, "at-1", Challenge(error="insufficient_scope", scopes=("send",)), now=NOW, name="X"
    )
    assert again
    assert stepped.stepup == ("read", "send")
    assert st.usable(stepped, NOW) is None


def test_a_401_spends_the_token_once_and_asks_for_fresh_discovery() -> None:
    state = st.adopted(st.SignInState(), TOKENS)
    state, again = st.after_rejection(
        state, "at-1", Challenge(error="invalid_token", resource_metadata="https://m"), now=NOW, name="X"
    )
    assert again
    assert state.tokens is not None
    assert state.tokens.expires_at == 0.0
    assert (state.rejected, state.rediscover, state.header_url) == ("at-1", True, "https://m")
    state, again = st.after_rejection(state, "at-1", Challenge(error="invalid_token"), now=NOW, name="X")
    assert not again  # the same token is never tried twice


def test_a_scope_already_granted_is_no_reason_to_step_up() -> None:
    state = st.adopted(st.SignInState(), TOKENS)
    state, again = st.after_rejection(
        state, "at-1", Challenge(error="insufficient_scope", scopes=("read",)), now=NOW, name="X"
    )
    assert not again
    assert state.stepup is None


def test_a_failed_sign_in_pauses_new_ones_for_five_minutes_but_not_login() -> None:
    state = st.signin_ended(st.SignInState(), NOW, failed=True)
    assert st.pause_reason(state, NOW + 299, forced=False) == st.PAUSED
    assert st.pause_reason(state, NOW + 299, forced=True) is None
    assert st.pause_reason(state, NOW + st.RETRY_AFTER_FAILURE, forced=False) is None
    assert st.signin_ended(st.SignInState(), NOW, failed=False).failed_at is None  # port taken: no pause


def test_a_completed_sign_in_clears_the_pause_the_step_up_and_the_refusal() -> None:
    state = st.signin_ended(st.SignInState(), NOW, failed=True)
    state, _ = st.after_rejection(
        state, "old", Challenge(error="insufficient_scope", scopes=("send",)), now=NOW, name="X"
    )
    state = st.signed_in(state, TOKENS)
    assert (state.failed_at, state.stepup, state.rejected, state.tokens) == (None, None, None, TOKENS)
    assert st.pause_reason(state, NOW, forced=False) is None


def test_signing_out_elsewhere_forgets_the_tokens_and_says_why_no_tab_opens() -> None:
    state = st.signed_out(st.adopted(st.SignInState(), TOKENS), NOW, "VertexSMS")
    assert state.tokens is None
    assert (
        st.pause_reason(state, NOW + 1, forced=False)
        == "You signed out of VertexSMS, so no browser tab was opened."
    )
    assert st.forgotten(st.adopted(st.SignInState(), TOKENS)).tokens is None


def test_scopes_a_step_up_asks_for_win_over_the_profile() -> None:
    target = _target()
    plain = st.scopes_for(st.SignInState(), ("read",), target, ())
    assert "read" in plain
    assert "send" not in plain
    stepped = st.SignInState(stepup=("read", "send"))
    assert {"read", "send"} <= set(st.scopes_for(stepped, ("read",), target, ()))


def test_a_fresh_sign_in_refused_before_it_was_ever_accepted_pauses_new_ones() -> None:
    state = st.signed_in(st.SignInState(), TOKENS, watch_acceptance=True)
    assert state.fresh == "at-1"
    assert st.refuses_fresh(state, "at-1", Challenge(error="invalid_token"))
    refused, again = st.after_rejection(
        state, "at-1", Challenge(error="invalid_token"), now=NOW, name="Vocci"
    )
    assert again
    assert refused.fresh is None
    assert st.pause_reason(refused, NOW + 1, forced=False) == (
        "Vocci refused the sign-in that had just completed, so no new browser tab was opened. "
        "Check that this account may use Vocci."
    )


def test_a_fresh_token_once_accepted_is_refused_like_any_other() -> None:
    state = st.accepted(st.signed_in(st.SignInState(), TOKENS, watch_acceptance=True), "at-1")
    assert state.fresh is None
    refused, again = st.after_rejection(
        state, "at-1", Challenge(error="invalid_token"), now=NOW, name="Vocci"
    )
    assert again
    assert st.pause_reason(refused, NOW + 1, forced=False) is None
    assert st.signed_in(st.SignInState(), TOKENS).fresh is None  # not watched unless asked
