"""``noetl-worker`` command line (subcommands are added by the operator modules)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from noetl_worker import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noetl-worker", description="NoETL worker pool: pulls commands from NATS JetStream and runs them."
    )
    parser.add_argument("--version", action="version", version=f"noetl-worker {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
