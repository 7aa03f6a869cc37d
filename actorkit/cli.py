"""The ``actorkit`` command: ``actorkit demo`` and the tools around a runtime."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actorkit", description="actorkit: a Trio-native actor runtime."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="run the demo application and print its events")
    demo.add_argument(
        "--json", action="store_true", help="print events as JSON lines instead of text"
    )
    demo.add_argument(
        "--level", default="info", help="lowest event level shown (debug, info, warning, error)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = _build_parser().parse_args(argv)
    if args.command == "demo":
        from . import demo  # noqa: PLC0415 (imported on use: the other commands start faster)

        return demo.main(level=args.level, json=args.json)
    return 2  # argparse has already refused anything else


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
