from __future__ import annotations

import io

from mutagen.id3 import ID3

from simulator import id3


def test_timestamp_tag_is_73_bytes_with_the_documented_signature() -> None:
    tag = id3.timestamp_tag(0x163B0D7FC)
    assert len(tag) == 73
    assert tag.startswith(b"ID3\x04\x00\x00\x00\x00\x00\x3fPRIV")
    assert tag[-8:] == (0x163B0D7FC).to_bytes(8, "big")


def test_timestamp_wraps_at_33_bits() -> None:
    assert id3.timestamp_tag(2**33 + 5)[-8:] == (5).to_bytes(8, "big")


def test_synchsafe_sizes() -> None:
    assert id3.synchsafe(63) == b"\x00\x00\x00\x3f"
    assert id3.synchsafe(128) == b"\x00\x00\x01\x00"


def test_hydra_full_tag_parses_with_mutagen() -> None:
    tag = id3.hydra_full_tag(3910968081.567, id3.participants_frame([{"UserName": "a"}]), [12, 0])
    frames = ID3(io.BytesIO(tag))
    assert frames["TIT3"].text == ["3910968081.567"]
    assert frames["TXXX:JSONMetadata"].text == ['{"HydraVersion":4,"ntp":3910968081.567}']
    assert frames["TXXX:HydraAudioLevel"].text == ["[12,0]"]
    assert frames["TXXX:HydraParticipants"].encoding == 3  # UTF-8


def test_level_tag_is_small() -> None:
    assert 42 <= len(id3.hydra_level_tag([55, 0, 0])) <= 46
