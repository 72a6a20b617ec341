"""Which transport failures end a command at once, and with which line: only a connection that
could not be made or trusted; a failure on an open connection is left to the retries."""

from __future__ import annotations

import ssl

import httpx
import pytest

from spacecast.errors import ExitCode
from spacecast.x.errors import from_transport

URL = "https://cdn.example:8443/chunk.aac"


def failed(kind: type[httpx.TransportError], cause: BaseException) -> httpx.TransportError:
    """An httpx error as a request raises it: the request attached, the OS's error its cause."""
    exc = kind(str(cause), request=httpx.Request("GET", URL))
    exc.__cause__ = cause
    return exc


def verify_failure() -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "unable to get local issuer certificate"
    return exc


@pytest.mark.parametrize(
    ("exc", "code", "says"),
    [
        (failed(httpx.ConnectError, verify_failure()), ExitCode.TLS_UNTRUSTED,
         "cdn.example:8443 does not verify (unable to get local issuer certificate)"),
        (failed(httpx.ConnectError, ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER]")),
         ExitCode.X_UNREACHABLE, "TLS handshake failed"),
        (failed(httpx.ConnectError, ConnectionRefusedError(111, "Connection refused")),
         ExitCode.X_UNREACHABLE, "cdn.example:8443: connection refused"),
        # asyncio's error for a host with two addresses, both refused: no errno of its own.
        (failed(httpx.ConnectError, OSError("Multiple exceptions: [Errno 111] Connect call "
                                            "failed ('::1', 8443), [Errno 111] Connect call")),
         ExitCode.X_UNREACHABLE, "connection refused"),
        (failed(httpx.ConnectTimeout, TimeoutError()), ExitCode.X_UNREACHABLE, "timed out"),
    ],
)  # fmt: skip
def test_a_connection_not_made_is_one_line(exc: httpx.TransportError, code: int, says: str) -> None:
    err = from_transport(exc)
    assert err is not None and err.code == code and says in err.message, err


@pytest.mark.parametrize(
    "exc",
    [
        failed(httpx.ReadError, ssl.SSLError(1, "[SSL: UNEXPECTED_MESSAGE]")),
        failed(httpx.ReadError, ConnectionResetError(104, "Connection reset by peer")),
        failed(httpx.RemoteProtocolError, EOFError()),
        failed(httpx.ReadTimeout, TimeoutError()),
    ],
)
def test_a_failure_on_an_open_connection_is_left_to_the_retries(
    exc: httpx.TransportError,
) -> None:
    assert from_transport(exc) is None
