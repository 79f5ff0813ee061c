"""The listening socket of bench's own servers (``bench.fastplane``, ``bench.peer``).

Each binds before it serves and prints ``listening on <port>`` once the socket is bound, which is how the
harness learns a port chosen by the kernel (``--port 0``). A port that cannot be bound is one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import socket
import sys

__all__ = ["add_address_arguments", "announce", "bind"]


def add_address_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (printed on stdout)")


def bind(prog: str, host: str, port: int, *, backlog: int = 1024) -> socket.socket | None:
    """A listening TCP socket on ``host:port``; ``None`` after saying on stderr why it could not be bound."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        print(f"{prog}: cannot bind {host}:{port}: {error}", file=sys.stderr)
        return None
    sock.listen(backlog)
    return sock


def announce(sock: socket.socket) -> None:
    print(f"listening on {sock.getsockname()[1]}", flush=True)
