"""Entry point of ``curation``: subcommands plug in as modules with ``register(subparsers)`` and ``run(args)``.

Errors are one line by default (``--debug`` prints the traceback); exit status 2 for a usage error.
"""

import argparse
import importlib
import sys

# each module defines register(subparsers) -> adds its subparser, and run(args) -> exit status
SUBCOMMANDS = ["curation_cli.run", "curation_cli.score", "curation_cli.labels"]


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block) for a bad flag or value."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    ap = _Parser(prog="curation", description="Curate a crawl into a pretraining mixture "
                                                              "(a Dagster asset graph; see the README).")
    ap.add_argument("--debug", action="store_true", help="print tracebacks instead of one-line errors")
    sub = ap.add_subparsers(dest="cmd", required=True)
    handlers = {}
    for name in SUBCOMMANDS:
        module = importlib.import_module(name)
        before = set(sub.choices)
        module.register(sub)
        for cmd in set(sub.choices) - before:
            sub.choices[cmd].add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                          help="print tracebacks instead of one-line errors")
            handlers[cmd] = module.run
    return ap, handlers


def main(argv=None) -> int:
    from curation_cli.errors import CliError, exception_line

    ap, handlers = build_parser()
    args = ap.parse_args(argv)
    try:
        return handlers[args.cmd](args)
    except KeyboardInterrupt:
        print(f"curation {args.cmd}: interrupted", file=sys.stderr)
        return 130
    except CliError as exc:
        if args.debug:
            raise
        print(f"curation {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line unless --debug
        if args.debug:
            raise
        print(f"curation {args.cmd}: error: {exception_line(exc)} (--debug prints the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
