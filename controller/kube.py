"""The controller's API calls: JSON in, JSON out, over the official client's connection pool,
auth and TLS (`kubernetes.client.ApiClient`), without its typed models.

Why not the typed API: objects stay plain dicts from end to end (the pure functions read and
build dicts, a pod renders to exactly what is sent), no time is spent building and converting
models, and one helper serves every resource, custom or not. Why not its `watch.Watch`: it
retries a 410 once and then raises, and has no inactivity timeout; `controller/watch.py` owns
both, over `stream()` here, whose read timeout is that inactivity timeout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines

JSON = dict[str, Any]
CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 30.0


class KubeError(Exception):
    """A failed API call: its HTTP status (0 when nothing answered) and the apiserver's reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


def _error(status: int, body: bytes) -> KubeError:
    try:
        data = json.loads(body)
        return KubeError(status, str(data.get("reason", "")), str(data.get("message", "")))
    except (ValueError, AttributeError):
        return KubeError(status, "", body[:200].decode(errors="replace"))


class Kube:
    def __init__(self, api: client.ApiClient, user_agent: str = "spacecast-controller") -> None:
        self.api = api
        self.api.user_agent = user_agent

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None,
        body: Any,
        content_type: str | None,
        timeout: tuple[float, float],
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        _, url, headers, body, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            return self.api.call_api(method, url, headers, body, _request_timeout=timeout)
        except client.ApiException as exc:  # raised by the REST layer for a few errors
            raise KubeError(exc.status or 0, str(exc.reason), str(exc.body)[:200]) from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:  # refused, reset, timed out
            raise KubeError(0, type(exc).__name__, str(exc)) from None

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> JSON:
        """One call; raises KubeError unless the answer is 2xx."""
        connect = min(CONNECT_TIMEOUT_S, timeout_s)
        resp = self._send(method, path, query, body, content_type, (connect, timeout_s))
        data = resp.read()
        if not 200 <= resp.status < 300:
            raise _error(resp.status, data)
        return json.loads(data) if data else {}

    def stream(self, path: str, query: dict[str, Any], inactivity_s: float) -> Iterator[JSON]:
        """A watch's events. Ends when the server closes it; raises KubeError when nothing
        arrives for `inactivity_s` (the socket's read timeout) or the call fails."""
        resp = self._send("GET", path, query, None, None, (CONNECT_TIMEOUT_S, inactivity_s))
        try:
            if not 200 <= resp.status < 300:
                raise _error(resp.status, resp.read())
            for line in iter_resp_lines(resp.response):  # type: ignore[no-untyped-call]
                if line:
                    yield json.loads(line)
        except (OSError, urllib3.exceptions.HTTPError) as exc:  # timed out, or broken
            raise KubeError(0, type(exc).__name__, str(exc)) from None
        finally:
            resp.response.release_conn()
