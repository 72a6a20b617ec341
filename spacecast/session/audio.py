"""PulseAudio with one null sink: Chromium plays into it, the pusher and the meter read its
monitor, the rescue plays into it too. The server is private to the session (its own socket in
the runtime directory), so nothing else on the host can hear or feed the cast."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from spacecast.session import commands
from spacecast.session.process import ManagedProcess

WAKE_S = 2.0
WAKE_EVERY_S = 0.02


class AudioServer(ManagedProcess):
    name = "pulseaudio"

    def __init__(self, sink: str, runtime_dir: Path) -> None:
        self.sink = sink
        self.socket = str(runtime_dir / "pulse" / "native")
        self._script = runtime_dir / "pulse" / "default.pa"
        self._script.parent.mkdir(parents=True, exist_ok=True)
        self._script.write_text(commands.pulseaudio_script(sink, self.socket))
        super().__init__(lambda: commands.pulseaudio(str(self._script)))

    @property
    def env(self) -> dict[str, str]:
        return commands.pulse_env(self.socket)

    def command(self) -> commands.Command:
        cmd = super().command()
        # Keep the daemon's own state (cookie, runtime files) inside the session too.
        home = str(self._script.parent)
        return cmd.model_copy(update={"env": {"PULSE_RUNTIME_PATH": home, "HOME": home}})

    async def ready(self) -> None:
        for _ in range(200):
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise RuntimeError(f"pulseaudio exited with {self.proc.returncode}")
            if (await self.pactl("list", "short", "sinks")).find(self.sink) >= 0:
                self._tasks.append(asyncio.create_task(self._wake()))
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("pulseaudio did not create the sink")

    async def _wake(self) -> None:
        """Resume the sink (it starts suspended: `commands.pulseaudio_script`) once its monitor
        has a reader, the meter, which the session starts next; after WAKE_S without one, all
        the same."""
        for _ in range(int(WAKE_S / WAKE_EVERY_S)):
            if (await self.pactl("list", "short", "source-outputs")).strip():
                break
            await asyncio.sleep(WAKE_EVERY_S)
        await self.pactl("suspend-sink", self.sink, "0")

    async def pactl(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            "pactl",
            *args,
            env={"PULSE_SERVER": f"unix:{self.socket}", "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate()
        return out.decode(errors="replace")

    async def mute_players_except(self, client: str, mute: bool) -> int:
        """Mute (or unmute) every stream playing into the sink but `client`'s; returns how many.

        This is how the browser and the rescue never play at once."""
        inputs = json.loads(await self.pactl("--format=json", "list", "sink-inputs") or "[]")
        changed = 0
        for item in inputs:
            if item.get("properties", {}).get("application.name") == client:
                continue
            if bool(item.get("mute")) != mute:
                await self.pactl("set-sink-input-mute", str(item["index"]), "1" if mute else "0")
                changed += 1
        return changed
