"""silent://: the real queue semantics and sentences, recorded instead of played."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from devices.errors import DeviceDisconnected, DeviceError
from devices.registry import open_device
from devices.speaker.announcer import Announcement
from devices.speaker.silent import SilentSpeaker
from devices.speaker.tts import CHIME, PAUSE
from devices.state import DeviceState
from devices.url import UrlError


async def test_records_the_exact_sentences_in_order() -> None:
    async with open_device("silent://?pace=0") as speaker:
        assert isinstance(speaker, SilentSpeaker)
        assert (await speaker.status()).state is DeviceState.READY
        calls = [await speaker.announce("A012", 3), await speaker.announce("b7", 12, green=True),
                 await speaker.announce("C100", 105, recall=True)]
        said = [(await c.wait()).text for c in calls]
    assert said == ["请A零一二号到三号窗口办理" * 2, "请B七号到绿色通道十二号窗口办理" * 2,
                    "请注意请C一零零号到一百零五号窗口办理" * 2]
    assert [s.text for s in speaker.spoken] == said
    assert speaker.spoken[0].tokens[0] == CHIME and speaker.spoken[0].tokens.count(PAUSE) == 1
    assert speaker.spoken[0].call.display == "请 A012 号到 3 号窗口办理"


async def test_repeat_option_and_pace_estimate() -> None:
    speaker = SilentSpeaker("silent://?repeat=1&pace=0.1")
    tokens = ["<chime>", "请", "A", "号", "<pause>", "请"]
    assert speaker.duration_s(tokens) == pytest.approx(0.1 * (2.5 + 4 + 2))
    assert SilentSpeaker("silent://?pace=0").duration_s(tokens) == 0
    assert speaker.repeat == 1
    with pytest.raises(UrlError, match=r"repeat=0 must be 1\.\.5"):
        SilentSpeaker("silent://?repeat=0")
    with pytest.raises(UrlError, match="pace"):
        SilentSpeaker("silent://?pace=-1")


async def test_queued_calls_never_overlap_and_none_is_dropped() -> None:
    async with SilentSpeaker("silent://?repeat=1&pace=0.005") as speaker:
        handles = [await speaker.announce(f"A{i:03d}", i % 7 + 1) for i in range(12)]
        assert speaker.pending >= 10
        await speaker.drain()
    spoken = [await h.wait() for h in handles]
    assert [s.call.ticket for s in speaker.spoken] == [f"A{i:03d}" for i in range(12)]
    assert all(s.complete for s in spoken)
    for before, after in itertools.pairwise(spoken):
        assert before.ended_at is not None and after.started_at is not None
        assert before.ended_at <= after.started_at


async def test_close_with_calls_waiting_fails_them_with_words_and_leaves_no_task() -> None:
    speaker = SilentSpeaker("silent://?pace=1")
    await speaker.open()
    first = await speaker.announce("A001", 1)
    second = await speaker.announce("A002", 2)
    await first.wait_started()
    assert speaker.speaking is not None and speaker.speaking.call.ticket == "A001"
    await speaker.close()
    with pytest.raises(DeviceDisconnected, match="closed while saying"):
        await first.wait()
    with pytest.raises(DeviceDisconnected, match="closed before this call was said"):
        await second.wait()
    assert [s.call.ticket for s in speaker.spoken] == ["A001"] and not speaker.spoken[0].complete
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("speaker")]
    with pytest.raises(DeviceDisconnected, match="is closed"):
        await speaker.announce("A003", 3)


async def test_bad_calls_are_refused_before_queueing() -> None:
    async with SilentSpeaker("silent://?pace=0") as speaker:
        with pytest.raises(ValueError, match="cannot announce ticket"):
            await speaker.announce("??", 1)
        assert speaker.pending == 0 and speaker.spoken == []


class FlakySpeaker(SilentSpeaker):
    """A speaker whose output breaks on one call, to show the queue survives a failure."""

    async def _play(self, item: Announcement) -> None:
        if item.spoken.call.ticket == "X001":
            raise RuntimeError("sound card vanished")
        await super()._play(item)


async def test_a_failed_call_is_reported_and_the_next_one_still_goes_out() -> None:
    async with FlakySpeaker("silent://?pace=0") as speaker:
        bad = await speaker.announce("X001", 1)
        good = await speaker.announce("A002", 2)
        with pytest.raises(DeviceError, match=r"broke while saying X001.*sound card vanished"):
            await bad.wait()
        assert (await good.wait()).complete
        assert speaker.last_status.state is DeviceState.READY  # back once a call went out again
        assert [s.call.ticket for s in speaker.spoken] == ["A002"]  # X001 never made a sound
