"""The floor of the download benchmark: fetch every chunk of a chunk list and throw the bytes
away, N at a time, on aiohttp's client (its HTTP/1.1 costs about a third of httpx's CPU per
request). No API calls, no cleaning, no file: what is left is the time the simulator and the
latency take, which no downloader on the same machine can beat.

    python -m bench.bare_fetch <chunk-list URL> <CA file> <concurrency>
"""

from __future__ import annotations

import asyncio
import ssl
import sys

import aiohttp
import uvloop

from spacecast.x import playlists


async def fetch_all(list_url: str, ca_file: str, concurrency: int) -> int:
    context = ssl.create_default_context(cafile=ca_file)
    connector = aiohttp.TCPConnector(ssl=context, limit=concurrency + 1)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(list_url) as resp:
            refs = list(playlists.parse_chunk_list(await resp.text(), list_url).chunks)
        failed = 0

        async def worker() -> None:
            nonlocal failed
            while refs:
                async with http.get(refs.pop().url) as resp:
                    await resp.read()
                    failed += resp.status != 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failed


def main() -> int:
    list_url, ca_file, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    failed = uvloop.run(fetch_all(list_url, ca_file, concurrency))
    print(f"{failed} chunks failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
