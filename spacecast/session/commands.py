"""Every command line a session runs, as data built by pure functions (tested without running).

Encoder choices follow what live ingest wants (restream.md section 7): x264 veryfast with
zerolatency, a fixed GOP with scene cuts off, capped CRF (a silent, still grid costs little; a
lively one is capped by maxrate/bufsize), AAC 128k at 44.1 kHz with async resampling so audio
stays locked to the wall clock that x11grab stamps video with.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from spacecast.session.settings import SessionSettings

RESCUE_CLIENT = "spacecast-rescue"  # the PulseAudio client name of the rescue's ffmpeg
VIDEO_QUEUE_FRAMES = 16
SINK_RATE = 44_100  # PulseAudio's default rate, so the monitor is read without resampling


class Command(BaseModel):
    argv: list[str]
    env: dict[str, str] = Field(default_factory=dict)


class Crop(BaseModel):
    width: int
    height: int
    x: int
    y: int

    @classmethod
    def parse(cls, text: str) -> Crop:
        size, x, y = text.split("+")
        width, height = size.split("x")
        return cls(width=int(width), height=int(height), x=int(x), y=int(y))


class EncoderSettings(BaseModel):
    width: int = 1280
    height: int = 720
    fps: int = 30
    crop: Crop | None = None
    preset: str = "veryfast"
    crf: int = 25
    max_kbps: int = 3000
    gop_seconds: float = 2.0
    audio_kbps: int = 128
    audio_rate: int = 44_100
    audio_delay_ms: int = 90

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.gop_seconds * self.fps))

    @classmethod
    def from_settings(cls, s: SessionSettings) -> EncoderSettings:
        return cls(
            width=s.width,
            height=s.height,
            fps=s.fps,
            crop=Crop.parse(s.crop) if s.crop else None,
            preset=s.preset,
            crf=s.crf,
            max_kbps=s.max_kbps,
            gop_seconds=s.gop_seconds,
            audio_kbps=s.audio_kbps,
            audio_delay_ms=s.audio_delay_ms,
        )


def pulse_env(socket: str) -> dict[str, str]:
    return {"PULSE_SERVER": f"unix:{socket}"}


def xvfb(display: str, width: int, height: int) -> Command:
    # -nolisten tcp: nothing outside the pod can draw on or read the display. No GLX: Chromium
    # draws in software (--disable-gpu), and the extension alone maps Mesa's LLVM into the server
    # (about 54 MiB of each cast's memory).
    return Command(
        argv=[
            "Xvfb",
            display,
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
            "-noreset",
            "-dpi",
            "96",
            "-extension",
            "GLX",
        ]
    )


def pulseaudio_script(sink: str, socket: str) -> str:
    """The server's whole configuration: one socket, one null sink, and it is the default.

    The sink starts suspended (`audio.AudioServer` resumes it once its monitor has a reader).
    A null sink renders in blocks as long as the lowest latency anyone asks of it, 2 s when
    nobody does: started awake, it begins with a 2 s block, and its first reader waits for the
    block's end. Resumed with a reader attached, it starts with that reader's latency."""
    return "\n".join(
        [
            f"load-module module-native-protocol-unix socket={socket} auth-anonymous=1",
            f"load-module module-null-sink sink_name={sink} "
            f"sink_properties=device.description={sink}",
            f"set-default-sink {sink}",
            "load-module module-always-sink",
            f"suspend-sink {sink} 1",
            "",
        ]
    )


def pulseaudio(script_path: str) -> Command:
    return Command(
        argv=[
            "pulseaudio",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "-n",
            "-F",
            script_path,
            "--log-target=stderr",
            "--log-level=warning",
        ]
    )


def ffmpeg(loglevel: str) -> list[str]:
    """Every ffmpeg of ours: no stdin (a stray byte there is a command), no banner."""
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", loglevel]


def capture_inputs(enc: EncoderSettings, display: str, sink: str) -> list[str]:
    """The display and the sink's monitor, both stamped with the wall clock (the pusher's inputs,
    and the calibration's: what the calibration measures is the path the cast takes)."""
    grab = enc.crop or Crop(width=enc.width, height=enc.height, x=0, y=0)
    return [
        "-copyts",
        # A short queue of raw frames (3.7 MB each at 720p): an encoder that falls behind drops
        # frames, and they are counted, instead of piling them up in memory. Each frame is a
        # shared-memory segment that x11grab keeps in a pool once made, so the deepest the queue
        # ever got stays in memory for the cast (16: up to 60 MB, half of it counted in Xvfb).
        # 8 saved 30 MiB, but under CI's load it dropped frames: a 155 ms hole in a recording.
        "-thread_queue_size",
        str(VIDEO_QUEUE_FRAMES),
        "-f",
        "x11grab",
        "-draw_mouse",
        "0",
        "-framerate",
        str(enc.fps),
        "-video_size",
        f"{grab.width}x{grab.height}",
        "-i",
        f"{display}.0+{grab.x},{grab.y}",
        "-thread_queue_size",
        "1024",
        "-f",
        "pulse",
        # Ask for 20 ms fragments: PulseAudio's default for a record stream is about 2 s, which
        # starves the muxer of audio, backs video up behind it and skews A/V timestamps.
        "-sample_rate",
        str(SINK_RATE),
        "-channels",
        "2",
        "-fragment_size",
        str(SINK_RATE * 4 * 20 // 1000),
        "-i",
        f"{sink}.monitor",
    ]


# Audio follows its timestamps: stretched or squeezed by at most 500 samples a second (1.1%,
# inaudible) once it drifts 5 ms from them, filled or trimmed past 100 ms. `async=1` alone only
# fills and trims, so whatever error the first packets carried (up to 100 ms, different in every
# run) stayed for the whole cast.
AUDIO_SYNC = "aresample=async=500:min_comp=0.005"


def sync_filters(delay_ms: int) -> tuple[list[str], list[str]]:
    """The video and audio filters that line the two up: audio later by `delay_ms` when the
    display shows a frame after its sound is heard, video later when it is negative. Only ever
    later: an earlier timestamp could fall before the stream's start."""
    shift = f"PTS+{abs(delay_ms) / 1000:.3f}/TB"
    video = [f"setpts={shift}"] if delay_ms < 0 else []
    audio = [f"asetpts={shift}"] if delay_ms > 0 else []
    return video, [*audio, AUDIO_SYNC]


def video_encoder(enc: EncoderSettings) -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        enc.preset,
        "-tune",
        "zerolatency",
        "-profile:v",
        "main",
        "-crf",
        str(enc.crf),
        "-maxrate",
        f"{enc.max_kbps}k",
        "-bufsize",
        f"{2 * enc.max_kbps}k",
        "-g",
        str(enc.gop_frames),
        "-keyint_min",
        str(enc.gop_frames),
        "-sc_threshold",
        "0",
    ]


def pusher(
    enc: EncoderSettings, display: str, sink: str, socket: str, progress_fd: int, epoch: float
) -> Command:
    """Grab the display and the sink's monitor; encode; write FLV to stdout for our publishers.

    Both inputs stamp what they capture with the wall clock. ffmpeg would shift each input to
    start at zero on its own, and the two open at different moments (PulseAudio takes a second
    or two), which puts audio that much ahead of video and backs video frames up behind it.
    `-copyts` keeps the capture times, so the streams line up by when things happened, and
    `-output_ts_offset -epoch` (the spawn time) brings them back near zero.
    """
    video_sync, audio_filters = sync_filters(enc.audio_delay_ms)
    video_filters = [f"scale={enc.width}:{enc.height}"] if enc.crop else []
    video_filters += [*video_sync, "format=yuv420p"]
    argv = [
        *ffmpeg("warning"),
        "-nostats",
        "-progress",
        f"pipe:{progress_fd}",
        "-stats_period",
        "1",
        *capture_inputs(enc, display, sink),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-vf",
        ",".join(video_filters),
        *video_encoder(enc),
        # Video stamped to the millisecond, as FLV is: the default, 1/fps, rounds every frame to
        # a grid whose phase against the grab is random, a constant error of up to half a frame.
        "-enc_time_base:v",
        "1/1000",
        "-c:a",
        "aac",
        "-b:a",
        f"{enc.audio_kbps}k",
        "-ar",
        str(enc.audio_rate),
        "-ac",
        "2",
        "-af",
        ",".join(audio_filters),
        "-output_ts_offset",
        f"-{epoch:.6f}",
        "-f",
        "flv",
        "-flvflags",
        "no_duration_filesize",
        "pipe:1",
    ]
    return Command(argv=argv, env=pulse_env(socket))


def calibration_capture(
    enc: EncoderSettings, display: str, sink: str, socket: str, epoch: float, luma_fd: int
) -> Command:
    """The pusher's inputs, measured instead of encoded (spacecast/session/calibration.py): the
    mean luma of every frame goes to `luma_fd` in ffmpeg's metadata=print format (buffered until
    ffmpeg exits), each silence's start and end to stderr as they happen (silencedetect logs at
    info level: `level+` marks which lines are those); `-progress` on stdout tells that frames
    flow. Times are made relative to `epoch` first: ffmpeg prints them with six significant
    digits, which would round the wall clock to 10 s. The picture is shrunk before it is
    measured: a full-screen flash survives that, and it costs little."""
    since = f"{epoch:.6f}/TB"
    return Command(
        argv=[
            *ffmpeg("level+info"),
            "-nostats",
            "-progress",
            "pipe:1",
            "-stats_period",
            "0.1",
            *capture_inputs(enc, display, sink),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-vf",
            f"setpts=PTS-{since},scale=64:36,signalstats,"
            f"metadata=print:key=lavfi.signalstats.YAVG:file=/dev/fd/{luma_fd}",
            "-af",
            f"asetpts=PTS-{since},silencedetect=noise={CALIBRATION_SILENCE_DB}dB:d=0.05",
            # Every frame as it came, on a fine clock (the default would clash frames that the
            # grab spaced unevenly under load, and complain of each).
            "-fps_mode",
            "passthrough",
            "-enc_time_base:v",
            "1/1000000",
            "-f",
            "null",
            "-",
        ],
        env=pulse_env(socket),
    )


CALIBRATION_SILENCE_DB = -30


METER_RATE = 8000


def meter(sink: str, socket: str) -> Command:
    """Raw 8 kHz mono samples of the sink's monitor on stdout; the level is computed from them."""
    return Command(
        argv=[
            "parec",
            "-d",
            f"{sink}.monitor",
            "--format=s16le",
            f"--rate={METER_RATE}",
            "--channels=1",
            "--latency-msec=100",
            "--client-name=spacecast-meter",
        ],
        env=pulse_env(socket),
    )


# What the rescue's ffmpeg may open, whatever X's playlist points at: HLS over HTTPS only (crypto
# for AES-128 segments), never file:, pipe:, subfile: or another protocol a hostile playlist
# could name. Plain http is added only where X itself is configured over plain HTTP (the chart's
# trial mode, an in-cluster simulator): there every URL X hands out is http://.
RESCUE_PROTOCOLS = "https,tls,tcp,crypto"


def rescue(hls_url: str, sink: str, socket: str, plain_http: bool = False) -> Command:
    """Play one rendition's audio (0:a:0; every rendition at once overlaps voices) into the sink.
    The URL comes from X's API: anything but https:// (or http:// with `plain_http`) is refused
    (ValueError)."""
    schemes = ("https", "http") if plain_http else ("https",)
    if urlsplit(hls_url).scheme not in schemes or any(c.isspace() for c in hls_url):
        said = "an http(s)://" if plain_http else "an https://"
        raise ValueError(f"the Space's stream location is not {said} URL")
    protocols = RESCUE_PROTOCOLS + (",http" if plain_http else "")
    return Command(
        argv=[
            *ffmpeg("warning"),
            "-protocol_whitelist",
            protocols,
            "-reconnect",
            "1",
            "-reconnect_streamed",
            "1",
            "-reconnect_delay_max",
            "5",
            "-i",
            hls_url,
            "-map",
            "0:a:0",
            "-vn",
            "-f",
            "pulse",
            "-name",
            RESCUE_CLIENT,
            "-device",
            sink,
            "rescue",
        ],
        env=pulse_env(socket),
    )


# The reaper (spacecast/session/reaper.py): it waits on a pipe only the supervisor writes to. A
# "done" line means a clean end; EOF without it means the supervisor died outright (SIGKILL,
# the OOM killer), and then it removes what must not outlive the cast. It retries for a few
# seconds because the browser, told by its driver's broken pipe to go, may still be writing.
REAPER_SCRIPT = """IFS= read -r said; [ "$said" = done ] && exit 0
for try in 1 2 3; do sleep 1; rm -rf -- "$0"; done"""


def reaper(path: str) -> Command:
    """sh, not Python: a few hundred kilobytes, waiting for the supervisor's end."""
    return Command(argv=["sh", "-c", REAPER_SCRIPT, path])
