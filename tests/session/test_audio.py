"""The session's PulseAudio (spacecast/session/audio.py), for real: its null sink starts asleep
and wakes once its monitor has a reader, so that reader starts with its own short latency
rather than the 2 s block a null sink renders while nobody asks for less."""

from __future__ import annotations

import asyncio
from pathlib import Path

from spacecast.session import audio, commands
from spacecast.session.audio import AudioServer


async def sink_state(server: AudioServer) -> str:
    line = next(s for s in (await server.pactl("list", "short", "sinks")).splitlines() if s)
    return line.split()[-1]


async def woken(server: AudioServer, within_s: float) -> str:
    """The sink's state once it is no longer suspended (TimeoutError if it stays so)."""
    async with asyncio.timeout(within_s):
        while (state := await sink_state(server)) == "SUSPENDED":  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return state


async def test_the_sink_sleeps_until_its_monitor_has_a_reader(tmp_path: Path) -> None:
    server = AudioServer("spacecast-wake", tmp_path)
    await server.start()
    reader = None
    try:
        assert await sink_state(server) == "SUSPENDED"
        meter = commands.meter("spacecast-wake", server.socket)
        reader = await asyncio.create_subprocess_exec(
            *meter.argv, env=meter.env, stdout=asyncio.subprocess.DEVNULL
        )
        # Well before it would wake all alone.
        assert await woken(server, within_s=audio.WAKE_S / 2) in {"RUNNING", "IDLE"}
    finally:
        if reader:
            reader.kill()
            await reader.wait()
        await server.stop()


async def test_a_sink_nobody_reads_wakes_all_the_same(tmp_path: Path) -> None:
    server = AudioServer("spacecast-alone", tmp_path)
    await server.start()
    try:
        assert await woken(server, within_s=audio.WAKE_S * 3) in {"RUNNING", "IDLE"}
    finally:
        await server.stop()
