"""Just enough HPACK (RFC 7541) for a gRPC health check: encode a request's headers, decode a response's.

Requests are encoded without Huffman coding and without the dynamic table
(every field a literal "without indexing"), which any peer must accept. A
response may use everything HPACK has, so the decoder does: the static table,
a dynamic table with its size limit, and Huffman-coded strings. The Huffman
code of RFC 7541 Appendix B is canonical, so it is fully described by the code
length of each of its 257 symbols (_LENGTHS, one letter per symbol:
A = 5 bits ... Z = 30 bits) and the codes are rebuilt from the lengths.
"""

from __future__ import annotations

_LENGTHS = "ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHFIBCCCCCCCCCCCCCCCCCCCCCCDCDIOIJBKABABABBBACCBBBABCBAABCCCCCKGJIXPRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRSVVPORSRUVVVWWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWVZ"

STATIC: list[tuple[str, str]] = [
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
    (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
    (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
    ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""),
    ("cache-control", ""), ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""),
    ("content-length", ""), ("content-location", ""), ("content-range", ""), ("content-type", ""),
    ("cookie", ""), ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""),
    ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
    ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
    ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
]


class HPACKError(ValueError):
    pass


def _build_codes() -> dict[tuple[int, int], int]:
    lengths = [ord(c) - ord("A") + 5 for c in _LENGTHS]
    codes: dict[tuple[int, int], int] = {}
    code, prev = -1, 0
    for sym in sorted(range(len(lengths)), key=lambda s: (lengths[s], s)):
        code = (code + 1) << (lengths[sym] - prev) if code >= 0 else 0
        prev = lengths[sym]
        codes[(prev, code)] = sym
    return codes


_CODES = _build_codes()
_EOS = 256


def huffman_decode(data: bytes) -> bytes:
    out = bytearray()
    code = nbits = 0
    for byte in data:
        for i in range(7, -1, -1):
            code = (code << 1) | ((byte >> i) & 1)
            nbits += 1
            sym = _CODES.get((nbits, code))
            if sym is not None:
                if sym == _EOS:
                    raise HPACKError("EOS in a Huffman-coded string")
                out.append(sym)
                code = nbits = 0
            elif nbits > 30:
                raise HPACKError("invalid Huffman code")
    if nbits > 7 or code != (1 << nbits) - 1:  # the padding is the most significant bits of EOS, all ones
        raise HPACKError("invalid Huffman padding")
    return bytes(out)


def encode_int(value: int, prefix: int, first: int = 0) -> bytes:
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode(headers: list[tuple[str, str]]) -> bytes:
    """A header block of literals without indexing, plain strings."""
    out = bytearray()
    for name, value in headers:
        n, v = name.encode(), value.encode()
        out += b"\x00" + encode_int(len(n), 7) + n + encode_int(len(v), 7) + v
    return bytes(out)


class Decoder:
    def __init__(self, max_size: int = 4096) -> None:
        self.max_size = self.limit = max_size
        self.dynamic: list[tuple[str, str]] = []  # newest first

    def _size(self) -> int:
        return sum(len(n) + len(v) + 32 for n, v in self.dynamic)

    def _add(self, name: str, value: str) -> None:
        self.dynamic.insert(0, (name, value))
        while self.dynamic and self._size() > self.max_size:
            self.dynamic.pop()

    def _entry(self, index: int) -> tuple[str, str]:
        if 1 <= index <= len(STATIC):
            return STATIC[index - 1]
        if 0 <= index - len(STATIC) - 1 < len(self.dynamic):
            return self.dynamic[index - len(STATIC) - 1]
        raise HPACKError(f"invalid header index {index}")

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        pos = 0
        while pos < len(block):
            b = block[pos]
            if b & 0x80:
                index, pos = _int(block, pos, 7)
                out.append(self._entry(index))
            elif b & 0x40 or not b & 0x20:
                indexing = bool(b & 0x40)
                index, pos = _int(block, pos, 6 if indexing else 4)
                if index:
                    name = self._entry(index)[0]
                else:
                    name, pos = _string(block, pos)
                value, pos = _string(block, pos)
                if indexing:
                    self._add(name, value)
                out.append((name, value))
            else:
                size, pos = _int(block, pos, 5)
                if size > self.limit:
                    raise HPACKError("dynamic table size update above the limit")
                self.max_size = size
                while self.dynamic and self._size() > self.max_size:
                    self.dynamic.pop()
        return out


def _int(block: bytes, pos: int, prefix: int) -> tuple[int, int]:
    limit = (1 << prefix) - 1
    value = block[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        if pos >= len(block) or shift > 28:
            raise HPACKError("truncated or oversized integer")
        b = block[pos]
        pos += 1
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def _string(block: bytes, pos: int) -> tuple[str, int]:
    if pos >= len(block):
        raise HPACKError("truncated header block")
    huffman = bool(block[pos] & 0x80)
    length, pos = _int(block, pos, 7)
    raw = block[pos:pos + length]
    if len(raw) < length:
        raise HPACKError("truncated string")
    data = huffman_decode(raw) if huffman else raw
    return data.decode("latin-1"), pos + length
