"""Relaying a terminal or plain stdio between the user and a container."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import termios
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kubelite.runtime import attach as af


@contextmanager
def raw_terminal(fd: int) -> Iterator[bool]:
    if not os.isatty(fd):
        yield False
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size(fd: int = 1) -> tuple[int, int] | None:
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
        return rows, cols
    except OSError:
        return None


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def attach_session(conn: socket.socket, stdin: bool, tty_mode: bool,
                   on_signal: Callable[[int], None] | None = None) -> int:
    """Speak the attach protocol until the container exits; return its exit code."""
    reader = af.FrameReader()
    in_fd = sys.stdin.fileno()
    fds: list[int] = [conn.fileno()]
    if stdin:
        fds.append(in_fd)
    if tty_mode:
        size = terminal_size()
        if size:
            conn.sendall(af.frame(af.RESIZE, f"{size[0]} {size[1]}".encode()))

        def resize(*_: Any) -> None:
            s = terminal_size()
            if s:
                conn.sendall(af.frame(af.RESIZE, f"{s[0]} {s[1]}".encode()))

        signal.signal(signal.SIGWINCH, resize)
    elif on_signal is not None:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(s, lambda signum, _f: on_signal(signum))
    code = 255
    with raw_terminal(in_fd) if (tty_mode and stdin) else _null():
        while True:
            try:
                ready, _, _ = select.select(fds, [], [])
            except InterruptedError:
                continue
            if in_fd in ready:
                data = os.read(in_fd, 65536)
                conn.sendall(af.frame(af.STDIN, data))
                if not data:
                    fds.remove(in_fd)
            if conn.fileno() in ready:
                data = conn.recv(65536)
                if not data:
                    break
                done = False
                for channel, payload in reader.feed(data):
                    if channel == af.STDOUT:
                        _write_all(1, payload)
                    elif channel == af.STDERR:
                        _write_all(2, payload)
                    elif channel == af.EXIT:
                        code = int(json.loads(payload).get("exitCode", 255))
                        done = True
                if done:
                    break
    return code


@contextmanager
def _null() -> Iterator[bool]:
    yield False


def relay_pty(master: int, stdin: bool) -> None:
    """Copy between our terminal and a pty master until the far side closes."""
    in_fd = sys.stdin.fileno()
    size = terminal_size()
    if size:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    fds = [master] + ([in_fd] if stdin else [])
    with raw_terminal(in_fd) if stdin else _null():
        while True:
            try:
                ready, _, _ = select.select(fds, [], [])
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                _write_all(1, data)
            if in_fd in ready:
                data = os.read(in_fd, 65536)
                if not data:
                    fds.remove(in_fd)
                    _write_all(master, b"\x04")
                else:
                    _write_all(master, data)
    os.close(master)
