"""The SPDY/3.1 session on its own, driven frame by frame as spdystream (kubectl's side) would.

The kubectl tests prove interoperation; these pin the parts kubectl rarely
shows: the shared zlib context across header blocks, PING echo, RST_STREAM, and
that streams closed both ways are forgotten.
"""

from __future__ import annotations

import asyncio
import struct
import zlib

from kubelite.agent.streaming.spdy import (
    FLAG_FIN,
    PING,
    RST_STREAM,
    SYN_REPLY,
    SYN_STREAM,
    SpdySession,
    SpdyStream,
    decode_headers,
    encode_headers,
)
from kubelite.agent.streaming.spdydict import DICTIONARY


class Pipe:
    """The server's transport: what the test feeds, and every frame the server writes."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[bytes] = asyncio.Queue()
        self.written = bytearray()

    async def read(self) -> bytes:
        return await self.incoming.get()

    async def write(self, data: bytes) -> None:
        self.written += data


class Client:
    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)

    def control(self, ftype: int, flags: int, payload: bytes) -> None:
        self.pipe.incoming.put_nowait(struct.pack(">HHI", 0x8003, ftype, (flags << 24) | len(payload)) + payload)

    def syn(self, sid: int, headers: dict[str, str], fin: bool = False) -> None:
        block = self.deflate.compress(encode_headers(headers)) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.control(SYN_STREAM, FLAG_FIN if fin else 0, struct.pack(">IIBB", sid, 0, 0, 0) + block)

    def data(self, sid: int, payload: bytes, fin: bool = False) -> None:
        self.pipe.incoming.put_nowait(struct.pack(">II", sid, ((FLAG_FIN if fin else 0) << 24) | len(payload))
                                      + payload)

    def frames(self) -> list[tuple[int, int, int, bytes]]:
        """(control type or -1, flags, stream id, payload) of everything the server wrote so far."""
        out, buf = [], bytes(self.pipe.written)
        while len(buf) >= 8:
            first, second = struct.unpack_from(">II", buf)
            length = second & 0xFFFFFF
            payload = buf[8:8 + length]
            if first & 0x80000000:
                sid = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF if len(payload) >= 4 else 0
                out.append((first & 0xFFFF, second >> 24, sid, payload))
            else:
                out.append((-1, second >> 24, first & 0x7FFFFFFF, payload))
            buf = buf[8 + length:]
        return out


def test_header_blocks_round_trip() -> None:
    block = encode_headers({"streamType": "data", "port": "8080"})
    assert decode_headers(block) == {"streamtype": "data", "port": "8080"}
    multi = struct.pack(">I", 1) + struct.pack(">I", 1) + b"a" + struct.pack(">I", 3) + b"x\0y"
    assert decode_headers(multi) == {"a": "x"}


def test_streams_replies_data_ping_and_reset() -> None:
    async def scenario() -> None:
        pipe = Pipe()
        client = Client(pipe)
        opened: list[SpdyStream] = []
        session = SpdySession(pipe, opened.append)
        runner = asyncio.create_task(session.run())
        # Two streams: the second header block only decodes if the zlib context carried over from the first.
        client.syn(1, {"streamtype": "error", "requestid": "0"})
        client.syn(3, {"streamtype": "data", "requestid": "0"})
        client.data(3, b"hello")
        client.data(3, b"", fin=True)
        client.control(PING, 0, struct.pack(">I", 7))
        client.syn(5, {"streamtype": "stdin"})
        client.control(RST_STREAM, 0, struct.pack(">II", 5, 5))
        while len(opened) < 3 or session.streams.get(5) is not None:
            await asyncio.sleep(0.01)
        err, data, stdin = opened
        assert (err.type, data.type, data.headers["requestid"], stdin.type) == ("error", "data", "0", "stdin")
        assert await data.read() == b"hello" and await data.read() == b""
        assert await stdin.read() == b""
        await data.write(b"world")
        await data.close()
        assert 3 not in session.streams  # closed both ways: forgotten
        pipe.incoming.put_nowait(b"")
        await runner
        assert await err.read() == b""  # the connection's end ends every stream
        frames = client.frames()
        replies = [f for f in frames if f[0] == SYN_REPLY]
        assert [r[2] for r in replies] == [1, 3, 5]
        for r in replies:  # each reply's (empty) header block decodes in the client's one zlib context
            assert decode_headers(client.inflate.decompress(r[3][4:])) == {}
        assert (PING, 0, 7, struct.pack(">I", 7)) in frames
        assert (-1, 0, 3, b"world") in frames and (-1, FLAG_FIN, 3, b"") in frames

    asyncio.run(scenario())
