from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from spacecast.errors import ExitCode
from spacecast.x.auth import BadCookies, guest_token_in, load_cookies

AUTH, CT0 = "a" * 40, "b" * 160


def netscape(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["# Netscape HTTP Cookie File", ".x.com\tTRUE\t/\tTRUE\t0\tguest_id\tv1%3A1"]
    lines += [f"#HttpOnly_.x.com\tTRUE\t/\tTRUE\t0\t{n}\t{v}" for n, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_netscape_cookies_txt(tmp_path: Path) -> None:
    cookies = load_cookies(netscape(tmp_path / "c.txt", [("auth_token", AUTH), ("ct0", CT0)]))
    assert (cookies.auth_token, cookies.ct0) == (AUTH, CT0)
    assert AUTH not in repr(cookies) and CT0 not in repr(cookies)


@pytest.mark.parametrize(
    "data",
    [
        {"auth_token": AUTH, "ct0": CT0},
        [{"name": "auth_token", "value": AUTH, "domain": ".x.com"}, {"name": "ct0", "value": CT0}],
        {"cookies": [{"name": "auth_token", "value": AUTH}, {"name": "ct0", "value": CT0}]},
    ],
)
def test_json_cookies(tmp_path: Path, data: object) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    assert load_cookies(path).ct0 == CT0


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "No such file or directory"),
        ("{not json", "not valid JSON"),
        ("/dev/zero", "not a regular file"),
        ("fifo", "not a regular file"),  # never waited on for a writer
        ("x" * (2 << 20), "over 1 MiB: not a cookie file"),
        ('{"auth_token": null, "ct0": 7}', "missing auth_token and ct0"),
        (
            '[{"name": "auth_token", "value": null}, {"name": "ct0", "value": "c"}]',
            "missing auth_token",
        ),
        ('{"ct0": "x"}', "missing auth_token"),
        ("", "missing auth_token and ct0"),
    ],
)
def test_bad_cookie_files(tmp_path: Path, content: str | None, why: str) -> None:
    path = tmp_path / "c.txt"
    if content == "/dev/zero":
        path = Path(content)  # unbounded: refused, not read forever
    elif content == "fifo":
        os.mkfifo(path)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(BadCookies) as err:
        load_cookies(path)
    assert why in err.value.message and err.value.code == ExitCode.BAD_COOKIES
    assert "None" not in err.value.message.replace(str(path), "")


@pytest.mark.parametrize(
    "value",
    [
        "S3CRET\r\nX-Evil: 1",
        "S3CRET en",
        "S3CRET;ct0=x",
        'S3CRET"',
        "S3CRET\x00",
        "S3CRET\u00e9",
        "S3CRET" * 1000,
    ],
)
def test_a_cookie_value_no_header_could_carry_is_refused_unquoted(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"auth_token": value, "ct0": "c" * 32}))
    with pytest.raises(BadCookies) as err:
        load_cookies(path)
    assert "auth_token is not a cookie value" in err.value.message
    assert "S3CRET" not in err.value.message


@pytest.mark.parametrize(
    ("body", "token"),
    [
        ('{"guest_token": "1862393858174291968"}', "1862393858174291968"),
        ('{"guest_token": 1862393858174291968}', "1862393858174291968"),
        ("{}", None),
        ("[]", None),
        ("not json", None),
        ('{"guest_token": null}', None),
        ('{"guest_token": true}', None),
        ('{"guest_token": ""}', None),
        ('{"guest_token": "12\\r\\nx-evil: 1"}', None),  # it goes back as a header
        ('{"guest_token": "' + "1" * 129 + '"}', None),
    ],
)
def test_the_guest_token_is_taken_only_when_fit_to_send(body: str, token: str | None) -> None:
    assert guest_token_in(body) == token
