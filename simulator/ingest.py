"""X's RTMP ingest (Periscope's `fr.pscp.tv` for X broadcasts), stood in for by nginx with the
RTMP module: it accepts a publish only for a known stream key (asking the simulator over HTTP,
as nginx-rtmp's `on_publish` does) and records what it receives, one FLV file per publish."""

from __future__ import annotations

from pathlib import Path

from simulator import nginx

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
APP = "x"


def nginx_conf(port: int, record_dir: Path, auth_url: str | None, host: str = "127.0.0.1") -> str:
    on_publish = f"on_publish {auth_url};" if auth_url else ""
    return f"""
rtmp {{
    access_log off;  # else the module's own default, /var/log/nginx: not ours to write
    server {{
        listen {nginx.listen(host, port)};
        chunk_size 4096;
        application {APP} {{
            live on;
            record all;
            record_path {record_dir};
            record_unique on;
            {on_publish}
        }}
    }}
}}
"""


class Ingest:
    """nginx-rtmp on a port of `host` (loopback unless the simulator listens wider, as in a
    cluster); `url(key)` is what a broadcaster on this machine publishes to."""

    def __init__(
        self, port: int, record_dir: Path, auth_url: str | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.port, self.host = port, host
        self.record_dir = record_dir
        self.auth_url = auth_url
        self._nginx = nginx.Nginx("RTMP ingest")
        self.public_port: int | None = None  # a fault proxy's, when one stands in front
        self.tls_port: int | None = None  # the RTMPS front's (--ingest-tls)

    def url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.public_port or self.port}/{APP}/{key}"

    def tls_url(self, key: str) -> str:
        assert self.tls_port, "the ingest runs without its RTMPS front (--ingest-tls)"
        return f"rtmps://127.0.0.1:{self.tls_port}/{APP}/{key}"

    def start(self) -> None:
        self.record_dir.mkdir(parents=True, exist_ok=True)
        conf = nginx_conf(self.port, self.record_dir, self.auth_url, self.host)
        self._nginx.start(conf, self.port, modules=(RTMP_MODULE,), bind=self.host)

    def stop(self) -> None:
        self._nginx.stop()

    def recordings(self) -> list[Path]:
        return sorted(self.record_dir.glob("*.flv"), key=lambda p: p.stat().st_mtime)
