"""Reading JSON Lines files (plain or gzip) with every bad line named: ``path:line: why``."""

import gzip
import json
from pathlib import Path
from typing import Iterator


def json_lines(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line; a line that is not a JSON object, or a file that is not
    UTF-8, raises ValueError naming the file and the line."""
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    lineno = 0
    with opener(path, "rt", encoding="utf-8") as f:
        try:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: not JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{lineno}: not a JSON object")
                yield lineno, row
        except UnicodeDecodeError:
            raise ValueError(f"{path}:{lineno + 1}: not UTF-8") from None
