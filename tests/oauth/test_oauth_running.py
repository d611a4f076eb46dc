"""A sign-in runs in the task group of the process's run: it outlives the call that started it,
is shared by every call waiting on it, keeps its error for them (never failing the run), and is
cancelled when the run ends."""

from __future__ import annotations

import asyncio
import time

import anyio
import pytest

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.core.tasks import LooseTasks, hosting
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.running import RunningSignIn, SignInTask
from vertex_stdio.oauth.waiting import Waiting

pytestmark = pytest.mark.anyio


class Hosted:
    """Records the task group a run hands over (the ``core.tasks.Hosted`` protocol)."""

    def __init__(self) -> None:
        self.tasks: object = None

    def run_tasks_in(self, tasks: object) -> None:
        self.tasks = tasks


async def test_a_sign_in_outlives_the_call_that_started_it_and_is_shared() -> None:
    """The starting call is cancelled; the sign-in goes on in the run's group; two later waiters
    get the same tokens; ``ended`` sees it once."""
    running, answer, ended = RunningSignIn(), anyio.Event(), []
    tokens = Tokens("access")

    async def sign_in() -> Tokens:
        await answer.wait()
        return tokens

    async with anyio.create_task_group() as run:
        with anyio.move_on_after(0.05):  # the call that started it stops waiting
            task = running.start(run, sign_in, ended.append)
            await task
        assert running.active
        first, second = asyncio.ensure_future(task.wait()), asyncio.ensure_future(task.wait())
        answer.set()
        await first
        await second
        assert await task is tokens
    assert ended == [task]
    assert not running.active


async def test_its_error_goes_to_its_waiters_never_to_the_run() -> None:
    running = RunningSignIn()
    failed: list[SignInTask] = []

    async def sign_in() -> Tokens:
        raise AuthRequired("The sign-in was not completed in time.")

    async with anyio.create_task_group() as run:
        task = running.start(run, sign_in, failed.append)
        with pytest.raises(AuthRequired, match="not completed in time"):
            await task
    assert failed == [task]
    assert isinstance(task.exception(), AuthRequired)
    assert not task.cancelled()


async def test_ending_the_run_cancels_the_sign_in_and_its_clean_up_still_runs() -> None:
    """The run's group is cancelled (shutdown): the sign-in ends cancelled, its ``finally`` ran
    (where its port closes), and a waiter learns it ended."""
    running, cleaned = RunningSignIn(), anyio.Event()
    ended: list[SignInTask] = []

    async def sign_in() -> Tokens:
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0)
                cleaned.set()
        raise AssertionError("unreachable")

    async with hosting(hosted := Hosted()):
        assert hosted.tasks is not None
        task = running.start(hosted.tasks, sign_in, ended.append)  # type: ignore[arg-type]
        await anyio.sleep(0.01)
        assert running.active
    assert cleaned.is_set()
    assert task.cancelled()
    assert ended == [task]
    await task.wait()
    with pytest.raises(asyncio.CancelledError):
        task.result()


async def test_cancel_stops_it_and_waits_for_its_end() -> None:
    """``RunningSignIn.cancel`` (the provider's ``aclose``) returns once the sign-in has ended,
    with loose tasks too (the default when no run hands a task group over)."""
    running = RunningSignIn()

    async def sign_in() -> Tokens:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    task = running.start(LooseTasks(), sign_in, lambda _: None)
    await anyio.sleep(0.01)
    await running.cancel()
    assert task.done()
    assert task.cancelled()


async def test_hosting_raises_the_blocks_own_error_as_itself() -> None:
    """The block's error is not wrapped in an ExceptionGroup (callers catch what they raised)."""
    with pytest.raises(AuthRequired, match="nope"):
        async with hosting(Hosted(), object()):
            raise AuthRequired("nope")


class _HeldOffer:
    """A client that shows the sign-in link and holds the offer open until it is withdrawn."""

    def __init__(self) -> None:
        self.offered = anyio.Event()
        self.withdrawn = False

    async def progress(self, message: str, elapsed: float, total: float | None) -> None:
        return None

    async def offer_url(self, url: str, message: str) -> str:
        self.offered.set()
        try:
            await anyio.sleep_forever()
        finally:
            self.withdrawn = True
        raise AssertionError("unreachable")


def _waiting(prompt: _HeldOffer) -> Waiting:
    return Waiting(prompt, 600.0, time.monotonic, brand="VertexSMS", needs_person=False)


def _auth_required(why: str) -> AuthRequired:
    return AuthRequired(why)


@pytest.mark.parametrize("ends", ["the sign-in ends", "the waiting call is cancelled"])
async def test_a_link_still_offered_is_withdrawn_before_the_wait_returns(ends: str) -> None:
    """The offer runs in the wait's own task group: however the wait ends, the offer has ended by
    then (it used to be a loose task, cancelled but still pending when the wait returned)."""
    running, answer, prompt = RunningSignIn(), anyio.Event(), _HeldOffer()
    tokens = Tokens("access")

    async def sign_in() -> Tokens:
        await answer.wait()
        return tokens

    async with anyio.create_task_group() as run:
        task = running.start(run, sign_in, lambda _: None)
        running.url = "https://as.example/authorize?state=s"  # the link, as ``showing`` sets it
        with anyio.CancelScope() as call:

            async def end_once_offered() -> None:
                await prompt.offered.wait()
                if ends == "the sign-in ends":
                    answer.set()
                else:
                    call.cancel()

            run.start_soon(end_once_offered)
            got = await running.wait(task, _waiting(prompt), _auth_required)
        assert prompt.withdrawn  # checked at once: nothing of the wait runs on
        assert (got is tokens) if ends == "the sign-in ends" else call.cancelled_caught
        answer.set()
