"""Space ids: `1` and 12 letters or digits, bare or inside an x.com / twitter.com Space URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from spacecast.x.errors import InvalidSpaceId

SPACE_ID_RE = re.compile(r"^1[0-9A-Za-z]{12}$")
# x.com, twitter.com and their www. / mobile. forms; the optional /peek suffix X's app adds.
HOST_RE = re.compile(r"^((www|mobile)\.)?(x|twitter)\.com$")
PATH_RE = re.compile(r"^/i/spaces/(?P<id>[^/]+)(/peek)?/?$")


def parse_space_id(text: str, extra_hosts: tuple[str, ...] = ()) -> str:
    """The Space id in `text`; `extra_hosts` are accepted besides X's (e.g. the simulator)."""
    text = text.strip()
    if SPACE_ID_RE.match(text):
        return text
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an unbalanced "[": not a URL at all
        raise InvalidSpaceId(text) from None
    match = PATH_RE.match(parts.path)
    if (HOST_RE.match(host) or host in extra_hosts) and match and SPACE_ID_RE.match(match["id"]):
        return match["id"]
    raise InvalidSpaceId(text)
