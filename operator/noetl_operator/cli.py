"""``noetl-operator`` command line (subcommands are added by the operator modules)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from noetl_operator import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noetl-operator", description="Kubernetes operator for NoetlWorkerPool.")
    parser.add_argument("--version", action="version", version=f"noetl-operator {__version__}")
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
