"""The ``actorkit`` command: the demo, and the key tools of peer links.

actorkit demo                 run the demo application
actorkit keygen PATH          write a new node identity (mode 0600, never overwrites)
actorkit pubkey < PATH        print the public key (node id) of the identity on stdin
actorkit id PATH              print a node id and its fingerprint
actorkit cluster-key PATH     write a new cluster secret (mode 0600, never overwrites)
"""

from __future__ import annotations

import argparse
import base64
import binascii
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
    keygen = commands.add_parser("keygen", help="write a new node identity key file")
    keygen.add_argument("path", help="where to write it (must not exist)")
    commands.add_parser("pubkey", help="print the node id of the identity read on stdin")
    node_id = commands.add_parser("id", help="print the node id and fingerprint of a key file")
    node_id.add_argument("path", help="an identity key file")
    cluster = commands.add_parser("cluster-key", help="write a new cluster secret")
    cluster.add_argument("path", help="where to write it (must not exist)")
    return parser


def _say(text: str) -> None:
    # The command's output, for a person or a script: not an event.
    sys.stdout.write(text + "\n")


def _fail(message: str) -> int:
    sys.stderr.write(f"actorkit: {message}\n")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = _build_parser().parse_args(argv)
    if args.command == "demo":
        from . import demo  # noqa: PLC0415 (imported on use: the other commands start faster)

        return demo.main(level=args.level, json=args.json)
    from . import net  # noqa: PLC0415 (only the key commands need it)

    try:
        if args.command == "keygen":
            identity = net.write_identity(args.path)
            _say(f"{identity.public}  ({identity.public.fingerprint}) written to {args.path}")
        elif args.command == "cluster-key":
            net.write_cluster_key(args.path)
            _say(f"cluster key written to {args.path}: copy it to every node, mode 0600")
        elif args.command == "id":
            identity = net.load_identity(args.path)
            _say(f"{identity.public}  {identity.public.fingerprint}")
        elif args.command == "pubkey":
            text = sys.stdin.read(4096).strip()
            try:
                seed = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                seed = b""
            if len(seed) != 32:
                return _fail("stdin does not hold an identity key (one base64 line of 32 bytes)")
            _say(str(net.Identity(seed).public))
    except net.KeyFileError as exc:
        return _fail(str(exc))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
