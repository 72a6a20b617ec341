"""The session's Prometheus metrics: names, labels and help texts, defined here once.

They are the contract for the Helm chart's probes, alerts and dashboard. Labels never carry a
secret: destinations are labelled by their index in the destinations file, not by URL.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Enum, Gauge

NAMESPACE = "spacecast"
START_TIME = time.time()

PUSH_BITRATE = Gauge(
    "spacecast_push_bitrate_bits_per_second",
    "Output bitrate of the encoder (ffmpeg -progress). Speech pushes about 1.3-1.6 Mbit/s; "
    "a silent cast idles near 150 kbit/s.",
)
PUSH_FPS = Gauge("spacecast_push_fps", "Frames per second the encoder produces.")
ENCODER_SPEED = Gauge("spacecast_encoder_speed_ratio", "Encoding speed relative to real time.")
DROPPED_FRAMES = Counter("spacecast_dropped_frames", "Frames the encoder dropped.")
DUPLICATED_FRAMES = Counter("spacecast_duplicated_frames", "Frames the encoder duplicated.")
BYTES_SENT = Counter(
    "spacecast_rtmp_sent_bytes", "Bytes written to each RTMP destination.", ["destination"]
)
DESTINATION_UP = Gauge(
    "spacecast_rtmp_destination_up", "1 while the destination is publishing.", ["destination"]
)
RECONNECTS = Counter(
    "spacecast_rtmp_reconnects", "Reconnections to each RTMP destination.", ["destination"]
)
AUDIO_FLOOR_DB = -120.0  # the level of digital silence, and of nothing measured yet
AUDIO_LEVEL = Gauge(
    "spacecast_audio_level_dbfs",
    "Mean audio level of the sink's monitor over a short window (speech about -20 dB; "
    "a camera Space without rescue about -91 dB).",
)
AUDIO_LEVEL.set(AUDIO_FLOOR_DB)  # from the first scrape, not 0 dB (loud) until the meter runs
SILENCE_SECONDS = Gauge(
    "spacecast_silence_seconds",
    "Seconds the sink has been below the silence threshold (0 while sound plays). Silence "
    "does not make a session unready: alerts on a silent cast stand on this.",
)
ENCODER_OUTPUT_AGE = Gauge(
    "spacecast_encoder_output_age_seconds",
    "Seconds since the encoder's last output; readiness fails past the readiness window.",
)
AV_OFFSET = Gauge(
    "spacecast_av_offset_seconds",
    "How much later the display shows a picture than the sink hears its sound (the calibration's "
    "measurement, else the configured delay): the pusher delays the sound by it, or the picture "
    "when it is negative.",
)
AV_CALIBRATED = Gauge(
    "spacecast_av_calibrated", "1 when the A/V offset was measured on this machine, 0 when fixed."
)
AUDIO_SOURCE = Enum(
    "spacecast_audio_source", "Which path feeds the sink.", states=["browser", "rescue", "none"]
)
RESCUE_ACTIVATIONS = Counter("spacecast_rescue_activations", "Times the HLS audio rescue engaged.")
PROCESS_RESTARTS = Counter(
    "spacecast_process_restarts", "Restarts of each supervised process.", ["process"]
)
SPACE_STATE = Enum(
    "spacecast_space_state",
    "The Space's state as X reports it.",
    states=["Unknown", "NotStarted", "Running", "Ended"],
)
PROCESS_STALLS = Counter(
    "spacecast_process_stalls",
    "Processes found alive but making no progress (output, samples, page heartbeat) for "
    "--stall-seconds, and restarted.",
    ["process"],
)
X_ERRORS = Counter(
    "spacecast_x_errors", "Calls to X's API on the live path that failed (retried; never fatal)."
)
MEDIA_READY_STATE = Gauge(
    "spacecast_page_media_ready_state",
    "readyState of the Space page's media element (1 = metadata only: starved).",
)
READY = Gauge("spacecast_ready", "1 when the session passes its readiness checks.")
UPTIME = Gauge("spacecast_uptime_seconds", "Seconds since the session started.")
UPTIME.set_function(lambda: time.time() - START_TIME)
