"""The output file's name, from a template and the Space's metadata.

Titles and names are X users' text: any length, any script, any character. A name part keeps
its letters, loses what a file system or a terminal would take badly (path separators, the
characters Windows refuses, control and format characters such as the bidirectional overrides
that make `evil\u202egpj.m4a` display as `evil.jpg...`) and is cut in UTF-8 bytes on a character
boundary, because file systems count bytes: 70 CJK characters or emoji are over 255 bytes.
A template may only name the known fields, with format widths no file name could hold refused
before they are built (`{id:>9999999999}` would ask for 10 GB).
"""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import Path

from spacecast.errors import UserError
from spacecast.x.models import SpaceMetadata

NAME_MAX = 255  # bytes in one file name (ext4, xfs, btrfs, tmpfs)
PART_EXTRA = 32  # the temporary file beside it: ".<name>.<pid>.part"
FIELDS = ("id", "title", "host", "host_name", "date", "ext")
PART_BYTES = {"title": 120, "host": 60, "host_name": 60}
UNSAFE = re.compile(r'[/\\:*?"<>|]+')


def clean_part(text: str, max_bytes: int) -> str:
    """`text` fit for a file name: no separators or invisible characters, at most `max_bytes`
    of UTF-8, never cut inside a character."""
    text = "".join(
        ch for ch in unicodedata.normalize("NFC", text)
        if unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp")
    )  # fmt: skip
    text = UNSAFE.sub("_", text)
    cut = text.encode()[:max_bytes].decode(errors="ignore")
    return cut.strip(" .") or "_"


def _shown(template: str) -> str:
    """The template as an error quotes it: short enough that the reason still shows."""
    return repr(template if len(template) <= 80 else template[:80] + "...")


def check_template(template: str) -> None:
    """Refuse a template that names an unknown field, reaches into one, or asks for a width
    no file name could hold, in one line."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UserError(f"bad output template {_shown(template)}: {exc}") from None
    for _, name, spec, _ in parsed:
        if name is None:
            continue
        if name not in FIELDS:
            known = " ".join(f"{{{f}}}" for f in FIELDS)
            raise UserError(
                f"bad output template {_shown(template)}: {{{name}}} is not one of {known}"
            )
        if any(len(n) > 3 or int(n) > NAME_MAX for n in re.findall(r"\d+", spec or "")):
            raise UserError(f"bad output template {_shown(template)}: a width over {NAME_MAX}")


def output_path(template: str, meta: SpaceMetadata, fmt: str, default_name: str) -> Path:
    """The output file: a template, a directory (the default name inside), or a plain path."""
    started = meta.started_at or meta.scheduled_start or meta.created_at
    fields = {
        "id": meta.id,
        "title": clean_part(meta.display_title, PART_BYTES["title"]),
        "host": clean_part(meta.host.screen_name or "unknown", PART_BYTES["host"]),
        "host_name": clean_part(
            meta.host.name or meta.host.screen_name or "unknown", PART_BYTES["host_name"]
        ),
        "date": f"{started:%Y-%m-%d}" if started else "undated",
        "ext": fmt,
    }
    path = Path(template).expanduser()
    if path.is_dir():
        path = path / default_name
    check_template(str(path))
    try:
        out = Path(str(path).format(**fields))
    except (KeyError, IndexError, ValueError) as exc:
        raise UserError(f"bad output template {_shown(template)}: {exc}") from None
    if len(out.name.encode()) > NAME_MAX - PART_EXTRA:
        raise UserError(
            f"output name over {NAME_MAX - PART_EXTRA} bytes: {out.name[:60]!r}...; "
            "use a shorter -o or template"
        )
    return out
