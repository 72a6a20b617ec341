"""AMF0, the encoding of RTMP commands: just the types RTMP servers send and we send."""

from __future__ import annotations

import struct
from typing import Any

NUMBER, BOOLEAN, STRING, OBJECT, NULL, UNDEFINED, ECMA_ARRAY, OBJECT_END = 0, 1, 2, 3, 5, 6, 8, 9
STRICT_ARRAY, LONG_STRING = 10, 12


def encode(value: Any) -> bytes:
    if value is None:
        return bytes([NULL])
    if isinstance(value, bool):
        return bytes([BOOLEAN, int(value)])
    if isinstance(value, int | float):
        return bytes([NUMBER]) + struct.pack(">d", float(value))
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) > 0xFFFF:
            return bytes([LONG_STRING]) + struct.pack(">I", len(raw)) + raw
        return bytes([STRING]) + struct.pack(">H", len(raw)) + raw
    if isinstance(value, dict):
        body = b"".join(_key(k) + encode(v) for k, v in value.items())
        return bytes([OBJECT]) + body + b"\x00\x00" + bytes([OBJECT_END])
    raise TypeError(f"cannot encode {type(value).__name__} as AMF0")


def _key(key: str) -> bytes:
    raw = key.encode()
    return struct.pack(">H", len(raw)) + raw


def decode_all(data: bytes) -> list[Any]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = _decode(data, pos)
        values.append(value)
    return values


def _decode(data: bytes, pos: int) -> tuple[Any, int]:
    marker, pos = data[pos], pos + 1
    if marker == NUMBER:
        return struct.unpack_from(">d", data, pos)[0], pos + 8
    if marker == BOOLEAN:
        return bool(data[pos]), pos + 1
    if marker in (STRING, LONG_STRING):
        width = 2 if marker == STRING else 4
        size = int.from_bytes(data[pos : pos + width])
        pos += width
        return data[pos : pos + size].decode(errors="replace"), pos + size
    if marker in (NULL, UNDEFINED):
        return None, pos
    if marker in (OBJECT, ECMA_ARRAY):
        if marker == ECMA_ARRAY:
            pos += 4  # the count is advisory; the end marker is what counts
        return _decode_pairs(data, pos)
    if marker == STRICT_ARRAY:
        count, pos = int.from_bytes(data[pos : pos + 4]), pos + 4
        items = []
        for _ in range(count):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos
    raise ValueError(f"unsupported AMF0 marker {marker}")


def _decode_pairs(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while True:
        size, pos = int.from_bytes(data[pos : pos + 2]), pos + 2
        if size == 0 and data[pos] == OBJECT_END:
            return out, pos + 1
        key, pos = data[pos : pos + size].decode(errors="replace"), pos + size
        out[key], pos = _decode(data, pos)
