"""A throwaway CA and server certificate, made at start: X is HTTPS-only and some clients
insist on it. The CA file's path is printed so clients can trust it (SPACECAST_X_CA_FILE)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

import trustme


@dataclass(frozen=True)
class ServerTls:
    context: ssl.SSLContext
    ca_file: Path
    key_and_chain: bytes = field(repr=False)  # PEM, for a TLS front of another program's


def make_server_context(state_dir: Path, host: str) -> ServerTls:
    ca = trustme.CA(organization_name="spacecast simulator")
    names = sorted({host, "localhost", "127.0.0.1", "::1"})
    cert = ca.issue_cert(*names)
    state_dir.mkdir(parents=True, exist_ok=True)
    ca_file = state_dir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return ServerTls(context, ca_file, cert.private_key_and_cert_chain_pem.bytes())
