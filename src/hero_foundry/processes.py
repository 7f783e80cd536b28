"""Loopback ports and child processes: what the local stack, the monitoring checks and the tests
share when they start a server of their own."""

from __future__ import annotations

import signal
import socket
import subprocess

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on right now (the kernel's pick; free until someone binds it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Ask ``process`` to stop with ``sig``; kill it if it has not exited within ``timeout``."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=timeout)
