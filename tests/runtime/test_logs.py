"""The CRI log writer and reader."""

from __future__ import annotations

import re
from pathlib import Path

from kubelite.runtime.logs import MAX_LINE, CRILogWriter, read_records

LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [PF] .*$")


def test_lines_are_cri_formatted_and_split(tmp_path: Path) -> None:
    path = tmp_path / "log"
    w = CRILogWriter(str(path))
    w.write("stdout", b"hello\nwor")
    w.write("stderr", b"oops\n")
    w.write("stdout", b"ld\n")
    w.write("stdout", b"x" * (MAX_LINE + 10) + b"\n")
    w.write("stdout", b"no newline at exit")
    w.close()
    raw = path.read_bytes().splitlines()
    assert all(LINE.match(line) for line in raw)
    with open(path, "rb") as f:
        recs = list(read_records(f))
    assert [(r.stream, r.partial, r.data) for r in recs[:3]] == [
        ("stdout", False, b"hello"), ("stderr", False, b"oops"), ("stdout", False, b"world")]
    assert recs[3].partial and len(recs[3].data) == MAX_LINE
    assert not recs[4].partial and recs[4].data == b"x" * 10
    assert recs[5].data == b"no newline at exit" and not recs[5].partial
