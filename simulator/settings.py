"""Everything `spacecast simulate` can be told, as flags (`--latency-ms`) or environment
(`SPACECAST_SIM_LATENCY_MS`). Defaults describe a healthy X; the fault knobs make it misbehave
the ways users have seen X misbehave (see x-spaces.md sections 2.8 and 6.3)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from spacecast.settings import ENV_PREFIX, SpacecastSettings


def is_loopback(address: str | None) -> bool:
    """Whether an address is this machine's. On a dual-stack socket (`--bind ::`) 127.0.0.1
    arrives as ::ffff:127.0.0.1."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


class SimulatorSettings(SpacecastSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "SIM_", extra="ignore")

    # Where it listens and how it names itself in the URLs it hands out.
    bind: str = Field("127.0.0.1", description="Address to listen on.")
    lever_token_file: str | None = Field(
        None,
        description="File with the token POST /_sim/ levers need from beyond loopback "
        "(required when --bind is not a loopback address).",
    )
    http_port: int = Field(
        8080, ge=0, le=65535, description="Plain HTTP port (0 = pick a free one)."
    )
    https_port: int = Field(8443, ge=0, le=65535, description="HTTPS port (0 = pick a free one).")
    public_host: str = Field("localhost", description="Host name used in the URLs it serves.")
    http2: bool = Field(
        False,
        description="Serve HTTPS through an HTTP/2 front (nginx, as X's CDN edge), HTTP/2 or "
        "HTTP/1.1 by ALPN; off: the simulator serves HTTPS itself, HTTP/1.1 only.",
    )
    http2_requests_per_connection: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Requests the edge serves on one connection before it ends it with "
        "GOAWAY (nginx's default; CDNs do the same).",
    )
    state_dir: str | None = Field(
        None, description="Where the CA and certificate are written (default: a temp directory)."
    )

    # X's RTMP ingest (nginx with the RTMP module), where casts are published.
    ingest: bool = Field(
        False, description="Also run X's RTMP ingest (nginx with the RTMP module)."
    )
    ingest_port: int = Field(1935, ge=0, le=65535, description="RTMP ingest port (0 = a free one).")
    ingest_proxy: bool = Field(
        False, description="Put a fault proxy in front of the ingest (/_sim/ingest/fault)."
    )
    ingest_tls: bool = Field(
        False, description="Also take RTMPS, on a TLS front of its own (its CA: /_sim/ca.pem)."
    )
    ingest_keys: list[str] = Field(
        default_factory=list, description="Stream keys the ingest accepts (default: any)."
    )
    ingest_dir: str | None = Field(
        None, description="Where the ingest records what it receives (default: in --state-dir)."
    )

    # The Spaces and their clock.
    space: list[str] = Field(
        default_factory=list,
        description=(
            "A Space to serve, as key=value pairs: kind=audio|camera, id=<13 chars>, "
            "start=<s from now, negative = already running>, duration=<s, 0 = until ended by "
            "hand>, replay=yes|no, title=..., host=<screen name>. Repeat for more Spaces. "
            "Without any: one live audio Space, one live camera Space, one ended replay, "
            "one scheduled."
        ),
    )
    speed: float = Field(1.0, ge=0, description="Clock speed: 10 runs Spaces ten times faster.")
    seed: int = Field(1, description="Seed for every random choice, so runs repeat.")
    live_window: int = Field(4, ge=1, description="Segments in the live dynamic playlist.")
    snapshot_every_s: float = Field(
        300,
        gt=0,
        description="While live, the chunk list is re-issued under a new name this often.",
    )

    # Access rules.
    guest_enabled: bool = Field(True, description="Accept guest tokens (X's rule since 2024-10).")
    require_transaction_id: bool = Field(False, description="Require x-client-transaction-id.")
    require_referer: bool = Field(
        False, description="403 on media unless Referer is x.com or twitter.com."
    )
    valid_auth_tokens: list[str] = Field(
        default_factory=list,
        description="Accept only these auth_token cookies (default: any 40-hex value).",
    )
    guest_token_ttl_s: float = Field(10800, gt=0, description="Guest token lifetime (X: 3 h).")
    guest_activate_limit: int = Field(
        50, ge=1, description="guest/activate.json calls per client per 15 minutes before 429."
    )
    api_rate_limit: int = Field(
        500, ge=1, description="API calls per endpoint per 15 minutes before 429 (code 88)."
    )
    omit_legacy_names: bool = Field(
        False, description="Leave name/screen_name out of creator .legacy (late-2025 schema)."
    )

    # Fault knobs.
    latency_ms: float = Field(0, ge=0, description="Added delay before every response.")
    throttle_kbps: float = Field(
        0, ge=0, description="Per-connection throughput cap in KB/s for media bodies (0 = none)."
    )
    chunk_404_rate: float = Field(
        0, ge=0, le=1, description="Share of chunk requests answered 404."
    )
    stray_bytes_rate: float = Field(
        0, ge=0, le=1, description="Share of chunks with stray TS bytes before the first ID3 tag."
    )
    truncate_rate: float = Field(
        0, ge=0, le=1, description="Share of chunk bodies cut short of their Content-Length."
    )
    pts_early_ms: float = Field(
        0,
        ge=0,
        le=10,
        description="Each chunk's PTS runs early by up to this much (X's run a little short "
        "of whole frames, about 1 ms).",
    )
    omit_content_length: bool = Field(False, description="Send media without Content-Length.")
    missing_chunks: list[int] = Field(
        default_factory=list, description="Sequence numbers left out of the final chunk list."
    )
    lost_chunks: list[int] = Field(
        default_factory=list,
        description="Sequence numbers the final list names but the CDN answers 404 for, always.",
    )
    short_chunks: list[int] = Field(
        default_factory=list,
        description="Sequence numbers whose body always ends partway into its last frame "
        "(whole responses: an origin holding a cut file).",
    )
    final_list_404_s: float = Field(
        60, ge=0, description="After the end, the final chunk list answers 404 this long."
    )
    final_list_lag_s: float = Field(
        0, ge=0, description="Then it lacks its last --final-list-lag-chunks chunks this long."
    )
    final_list_lag_chunks: int = Field(
        5, ge=0, description="How many chunks the lagging list lacks."
    )
    host_disconnect: list[str] = Field(
        default_factory=list,
        description="START:SECONDS after a Space's start when the host drops: the dynamic "
        "playlist answers 404 while the Space stays Running. Repeatable.",
    )
    burst_429_every: int = Field(
        0, ge=0, description="Every Nth API call starts a burst of 429s (0 = never)."
    )
    burst_429_length: int = Field(3, ge=1, description="API calls answered 429 in each burst.")
    burst_429_reset_s: float = Field(
        2, ge=0, description="x-rate-limit-reset is this far ahead during a burst."
    )

    @model_validator(mode="after")
    def _levers_are_guarded_beyond_loopback(self) -> SimulatorSettings:
        loopback = is_loopback(self.bind) or self.bind == "localhost"
        if not loopback and not self.lever_token_file:
            raise ValueError(
                f"listening on {self.bind} opens the levers to others: give --lever-token-file"
            )
        return self
