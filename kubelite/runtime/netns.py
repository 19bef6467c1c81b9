"""Sockets inside another network namespace, without moving the process.

A pod's network namespace may have nothing but its loopback; probes and
port-forwarding still reach ``127.0.0.1:PORT`` inside it. ``setns(2)`` on a
network namespace changes only the calling thread, and a socket stays in the
namespace it was created in, so a short-lived thread enters the namespace,
makes the socket and leaves; the caller then uses the socket from anywhere
(an asyncio loop included).
"""

from __future__ import annotations

import os
import socket
import threading

from kubelite.runtime.syscalls import CLONE_NEWNET, SYSCALLS, Syscalls


def socket_in_netns(netns_path: str, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM,
                    sys: Syscalls | None = None) -> socket.socket:
    """A new socket in the network namespace at ``netns_path`` (``/proc/PID/ns/net`` or a pinned file)."""
    sc = sys or SYSCALLS
    result: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                # This thread exits right after: it need not (and must not try to) move back.
                sc.setns(target, CLONE_NEWNET)
            finally:
                os.close(target)
            result.append(socket.socket(family, type))
        except BaseException as e:  # handed to the caller's thread
            result.append(e)

    t = threading.Thread(target=make, name="netns-socket")
    t.start()
    t.join()
    out = result[0]
    if isinstance(out, BaseException):
        raise out
    return out
