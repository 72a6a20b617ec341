"""HLS playlists as X writes them (x-spaces.md 2.4), built by pure functions from a timeline.

The shapes matter to real clients: twspace-dl takes the master's 4th line as an absolute path,
tslazer its last non-empty line; chunk lines start with `chunk`; EXTINF has three decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

TARGET_DURATION = 4


def _segments(
    seqs: Iterable[int],
    extinf: Callable[[int], str],
    uri: Callable[[int], str],
    pdt: Callable[[int], str],
) -> list[str]:
    lines: list[str] = []
    for seq in seqs:
        lines += [f"#EXT-X-PROGRAM-DATE-TIME:{pdt(seq)}", f"#EXTINF:{extinf(seq)},", uri(seq)]
    return lines


def live(
    seqs: Sequence[int],
    extinf: Callable[[int], str],
    uri: Callable[[int], str],
    pdt: Callable[[int], str],
    discontinuity_sequence: int = 0,
) -> str:
    """The sliding-window dynamic playlist: no ENDLIST, MEDIA-SEQUENCE = first seq shown."""
    head = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        f"#EXT-X-TARGETDURATION:{TARGET_DURATION}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f"#EXT-X-MEDIA-SEQUENCE:{seqs[0] if seqs else 0}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}",
        "#EXT-X-START:TIME-OFFSET=0.01",
    ]
    return "\n".join(head + _segments(seqs, extinf, uri, pdt)) + "\n"


def vod(
    seqs: Sequence[int],
    extinf: Callable[[int], str],
    uri: Callable[[int], str],
    pdt: Callable[[int], str],
) -> str:
    """The "true master" chunk list: every chunk so far (or all of them), then ENDLIST."""
    head = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        f"#EXT-X-TARGETDURATION:{TARGET_DURATION}",
        f"#EXT-X-MEDIA-SEQUENCE:{seqs[0] if seqs else 0}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    return "\n".join([*head, *_segments(seqs, extinf, uri, pdt), "#EXT-X-ENDLIST"]) + "\n"


def audio_master(variant_path: str) -> str:
    """Exactly four lines and a newline; the variant is an absolute path."""
    return (
        "#EXTM3U\n#EXT-X-DYNAMICALLY-GENERATED\n"
        '#EXT-X-STREAM-INF:PROGRAM-ID=1,BANDWIDTH=500000,CODECS="avc1.640015,mp4a.40.2"\n'
        f"{variant_path}\n"
    )


def video_master(variants: Sequence[tuple[str, dict[str, object]]]) -> str:
    """A camera Space's ladder, best first; each variant is (absolute path, rendition JWT)."""
    lines = ["#EXTM3U", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for path, r in variants:
        kbps = int(str(r["Kbps"]))
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={kbps * 1000},RESOLUTION={r['Width']}x{r['Height']},"
            'CODECS="avc1.4d401f,mp4a.40.2"'  # Main profile, as the cards are encoded
        )
        lines.append(path)
    return "\n".join(lines) + "\n"
