"""A sign-in runs in the task group of the process's run: it outlives the call that started it,
is shared by every call waiting on it, keeps its error for them (never failing the run), and is
cancelled when the run ends."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from vertex_stdio.core.errors import AuthRequired
from vertex_stdio.core.tasks import LooseTasks, hosting
from vertex_stdio.oauth.protocol.core import Tokens
from vertex_stdio.oauth.running import RunningSignIn, SignInTask

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
