"""``curation score --output-base DIR --input IN.jsonl --out OUT.jsonl``: score each line's ``text`` with the
trained classifier and the heuristics of the pipeline whose outputs are under DIR; writes classifier_score,
quality_bucket, quality_pass and quality_reason per line, in input order. Bad input: one line on stderr, exit 2."""

import argparse
import sys


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("score", help="score a JSONL file of texts with a trained pipeline's classifier",
                              description=__doc__)
    _arguments(p)
    p.set_defaults(func=run)
    return p


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-base", required=True, help="what `curation run --output DIR` wrote (local or s3://)")
    p.add_argument("--input", required=True, help="JSONL, one document per line with a \"text\" field")
    p.add_argument("--out", required=True, help="JSONL to write: the input lines plus the four quality fields")


def run(args) -> int:
    from curation.quality.scoring import ScoreError, score_file

    try:
        n = score_file(args.output_base, args.input, args.out)
    except ScoreError as exc:
        print(f"curation score: {exc}", file=sys.stderr)
        return 2
    print(f"scored {n} documents into {args.out}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="curation score", description=__doc__)
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
