"""Command lines are data: checked here without running anything."""

from __future__ import annotations

import pytest

from spacecast.session import commands
from spacecast.session.settings import SessionSettings


def argv_value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_pusher_defaults_are_720p30_with_a_fixed_two_second_gop() -> None:
    enc = commands.EncoderSettings.from_settings(SessionSettings())
    cmd = commands.pusher(
        enc, ":99", "spacecast99", "/run/pulse/native", progress_fd=5, epoch=1700000000.25
    )
    argv = cmd.argv
    assert argv_value(argv, "-video_size") == "1280x720"
    assert argv_value(argv, "-framerate") == "30"
    assert argv_value(argv, "-i") == ":99.0+0,0"
    assert "spacecast99.monitor" in argv
    assert argv_value(argv, "-g") == argv_value(argv, "-keyint_min") == "60"
    assert argv_value(argv, "-sc_threshold") == "0"
    assert argv_value(argv, "-preset") == "veryfast" and argv_value(argv, "-tune") == "zerolatency"
    assert argv_value(argv, "-maxrate") == "3000k" and argv_value(argv, "-bufsize") == "6000k"
    assert argv_value(argv, "-b:a") == "128k" and argv_value(argv, "-c:a") == "aac"
    assert argv_value(argv, "-progress") == "pipe:5"
    # Capture times kept (inputs aligned by wall clock), then shifted back near zero.
    assert "-copyts" in argv and argv_value(argv, "-output_ts_offset") == "-1700000000.250000"
    assert argv_value(argv, "-fragment_size") == str(44_100 * 4 // 50)  # 20 ms of audio
    assert argv_value(argv, "-af") == f"asetpts=PTS+0.090/TB,{commands.AUDIO_SYNC}"
    assert argv_value(argv, "-vf") == "format=yuv420p"
    assert argv_value(argv, "-enc_time_base:v") == "1/1000"  # as FLV: no rounding to 1/fps
    assert argv[-3:] == ["-flvflags", "no_duration_filesize", "pipe:1"]  # FLV to our publishers
    assert cmd.env == {"PULSE_SERVER": "unix:/run/pulse/native"}


@pytest.mark.parametrize(
    ("delay_ms", "video", "audio"),
    [
        (90, "format=yuv420p", f"asetpts=PTS+0.090/TB,{commands.AUDIO_SYNC}"),
        (0, "format=yuv420p", commands.AUDIO_SYNC),
        # The picture arrives before its sound: the picture waits, never the sound goes early.
        (-45, "setpts=PTS+0.045/TB,format=yuv420p", commands.AUDIO_SYNC),
    ],
)
def test_the_offset_delays_whichever_stream_is_early(delay_ms: int, video: str, audio: str) -> None:
    enc = commands.EncoderSettings(audio_delay_ms=delay_ms)
    argv = commands.pusher(enc, ":1", "s", "/sock", 3, 0.0).argv
    assert (argv_value(argv, "-vf"), argv_value(argv, "-af")) == (video, audio)


def test_the_calibration_measures_the_pushers_own_inputs() -> None:
    enc = commands.EncoderSettings(crop=commands.Crop.parse("640x360+10+20"))
    pusher = commands.pusher(enc, ":7", "s", "/sock", 3, 0.0).argv
    capture = commands.calibration_capture(enc, ":7", "s", "/sock", 1700000000.5, 8).argv
    inputs = commands.capture_inputs(enc, ":7", "s")
    for argv in (pusher, capture):
        start = argv.index("-copyts")
        assert argv[start : start + len(inputs)] == inputs
    video, audio = argv_value(capture, "-vf"), argv_value(capture, "-af")
    # Times relative to the spawn (ffmpeg prints six significant digits); lumas to their pipe.
    assert video.startswith("setpts=PTS-1700000000.500000/TB,") and video.endswith("/dev/fd/8")
    assert audio.startswith("asetpts=PTS-1700000000.500000/TB,silencedetect=")
    assert argv_value(capture, "-progress") == "pipe:1"
    assert capture[-3:] == ["-f", "null", "-"]  # measured, never encoded or sent


def test_crop_grabs_a_region_and_scales_it_back() -> None:
    settings = SessionSettings(crop="640x360+100+50", fps=25, gop_seconds=4)
    enc = commands.EncoderSettings.from_settings(settings)
    argv = commands.pusher(enc, ":7", "s", "/sock", 3, 0.0).argv
    assert argv_value(argv, "-video_size") == "640x360"
    assert argv_value(argv, "-i") == ":7.0+100,50"
    assert argv_value(argv, "-vf").startswith("scale=1280:720")
    assert argv_value(argv, "-g") == "100"


def test_rescue_pins_one_rendition_into_the_sink() -> None:
    argv = commands.rescue("https://cdn/master.m3u8", "spacecast99", "/sock").argv
    assert argv_value(argv, "-map") == "0:a:0"
    assert argv_value(argv, "-device") == "spacecast99"
    assert argv_value(argv, "-name") == commands.RESCUE_CLIENT
    assert argv_value(argv, "-protocol_whitelist") == "https,tls,tcp,crypto"
    assert argv.index("-protocol_whitelist") < argv.index("-i")  # it must precede the input


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "http://cdn/m.m3u8", "subfile:,,start,0,end,0,:/x", "pipe:0",
            "https://cdn/m.m3u8 -f null", "concat:https://a|file:///x"],
)  # fmt: skip
def test_the_rescue_goes_only_to_https(url: str) -> None:
    with pytest.raises(ValueError):
        commands.rescue(url, "spacecast99", "/sock")


def test_plain_http_is_for_an_x_configured_over_plain_http_only() -> None:
    """The chart's trial mode (an in-cluster simulator over HTTP) hands out http:// streams."""
    argv = commands.rescue("http://sim:8080/m.m3u8", "spacecast99", "/sock", plain_http=True).argv
    assert argv_value(argv, "-protocol_whitelist") == "https,tls,tcp,crypto,http"
    for url in ("file:///etc/passwd", "http://cdn/m.m3u8 -f null", "pipe:0"):
        with pytest.raises(ValueError):
            commands.rescue(url, "spacecast99", "/sock", plain_http=True)


def test_pulseaudio_script_makes_the_sink_the_default() -> None:
    script = commands.pulseaudio_script("spacecast99", "/run/p/native")
    assert "module-null-sink sink_name=spacecast99" in script
    assert "set-default-sink spacecast99" in script
    assert "socket=/run/p/native" in script


def test_xvfb_listens_on_no_tcp_port() -> None:
    argv = commands.xvfb(":99", 1280, 720).argv
    assert argv[:2] == ["Xvfb", ":99"] and "1280x720x24" in argv
    assert argv_value(argv, "-nolisten") == "tcp"
