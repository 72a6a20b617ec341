"""A throwaway CA and server certificate, made at start: X is HTTPS-only and some clients
insist on it. The CA file's path is printed so clients can trust it (SPACECAST_X_CA_FILE)."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


def make_server_context(state_dir: Path, host: str) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA(organization_name="spacecast simulator")
    names = sorted({host, "localhost", "127.0.0.1", "::1"})
    cert = ca.issue_cert(*names)
    state_dir.mkdir(parents=True, exist_ok=True)
    ca_file = state_dir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context, ca_file
