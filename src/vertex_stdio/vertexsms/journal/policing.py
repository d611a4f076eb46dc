"""The spending policy at the journal: refusals (recorded ``refused``, then ``POLICY_REFUSED``),
the read-only hint before a confirmation, and whether a send needs a person's yes.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import anyio.to_thread

from vertex_stdio.core.errors import JournalUnavailable, PolicyRefused
from vertex_stdio.core.launcher import command
from vertex_stdio.vertexsms.journal.records import Finish, Kind, NewCall
from vertex_stdio.vertexsms.journal.store import JournalStore, JournalStoreError, Refused
from vertex_stdio.vertexsms.policy import Breach, Policy, needs_confirmation, static_breach

if TYPE_CHECKING:
    from vertex_stdio.vertexsms.journal.safety import CallFacts, SendJournal


async def check_static(store: JournalStore, new: NewCall, policy: Policy | None) -> None:
    """``PolicyRefused`` (the refusal recorded) when a rule that needs no counting says no."""
    breach = static_refusal(policy, new)
    if breach is not None:
        raise await refuse(store, new, breach)


async def refuse(store: JournalStore, new: NewCall, breach: Breach) -> PolicyRefused:
    """Record ``new`` as ``refused`` by ``breach`` (never counted: it did not go) and return its error."""

    def record() -> None:
        try:
            record_id = store.begin(new, None)
        except Refused:
            return  # the clock is behind the journal: nothing can be recorded by it
        store.finish(record_id, Finish("refused", detail=f"POLICY_REFUSED: {breach.rule}"), new.started)

    # The call is refused either way; a journal in trouble shows it on the next call.
    with contextlib.suppress(JournalStoreError):
        await anyio.to_thread.run_sync(record)
    return policy_refused(breach, new.tool, new.kind)


def policy_refused(breach: Breach, tool: str, kind: Kind) -> PolicyRefused:
    """The ``POLICY_REFUSED`` error for ``breach``: the rule, its value, where it is changed."""
    where = " The sandbox enforces the same policy as real sends." if kind == "sandbox" else ""
    return PolicyRefused(
        f"Not sent: the spending policy refuses this {tool} call ({breach.rule}): {breach.why}.{where} "
        f"Tell the user; only they can change the policy ({breach.where}). `{command('policy')}` "
        "shows every rule and where it is set.",
        rule=breach.rule,
        value=breach.value,
        change=breach.where,
        outcome="not_sent",
    )


def static_refusal(policy: Policy | None, new: NewCall) -> Breach | None:
    """The policy's rule that refuses ``new`` without counting anything (None: none does)."""
    return None if policy is None else static_breach(policy, new.tool, new.recipient, new.started)


async def needs_yes(journal: SendJournal, facts: CallFacts) -> bool:
    """Whether this send needs a person's yes under the policy (``needs_confirmation``), the
    recipient being new when the journal holds no ``sent`` record to it.  Without a policy: yes."""
    policy = journal.rules.policy
    if policy is None:
        return True
    new = facts.recipient is not None and not await _sent_to(journal, facts.recipient)
    return needs_confirmation(policy, facts.price_eur, new)


async def _sent_to(journal: SendJournal, recipient: str) -> bool:
    """Whether the journal knows a send to ``recipient``; False when it cannot be read (the
    recipient counts as new, so a yes is asked: the safe side; ``begin`` then refuses the send
    itself while the journal stays unusable)."""
    try:
        store = await journal.store()
        return await anyio.to_thread.run_sync(store.sent_to, recipient, journal.kind)
    except (JournalUnavailable, JournalStoreError):
        return False
