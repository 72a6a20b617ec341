from __future__ import annotations

import pytest

from spacecast.errors import ExitCode
from spacecast.x.errors import InvalidSpaceId
from spacecast.x.ids import parse_space_id


@pytest.mark.parametrize(
    "text",
    [
        "1OwxWwQOPlNxQ",
        "https://x.com/i/spaces/1OwxWwQOPlNxQ",
        "https://twitter.com/i/spaces/1OwxWwQOPlNxQ/peek",
        "https://mobile.twitter.com/i/spaces/1OwxWwQOPlNxQ?s=20",
        "www.x.com/i/spaces/1OwxWwQOPlNxQ/",
        " 1OwxWwQOPlNxQ\n",
    ],
)
def test_space_ids_and_urls(text: str) -> None:
    assert parse_space_id(text) == "1OwxWwQOPlNxQ"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1OwxWwQOPlNx",  # 12 characters
        "2OwxWwQOPlNxQ",  # must start with 1
        "1OwxWwQOPlN-Q",
        "https://example.com/i/spaces/1OwxWwQOPlNxQ",
        "https://x.com/i/status/1OwxWwQOPlNxQ",
        "https://x.com/i/spaces/1OwxWwQOPlNxQQ",
    ],
)
def test_not_spaces(text: str) -> None:
    with pytest.raises(InvalidSpaceId) as err:
        parse_space_id(text)
    assert err.value.code == ExitCode.INVALID_SPACE


def test_extra_hosts_for_the_simulator() -> None:
    url = "https://localhost:8443/i/spaces/1OwxWwQOPlNxQ"
    assert parse_space_id(url, extra_hosts=("localhost",)) == "1OwxWwQOPlNxQ"
