"""Compare the result tables of two runs of the workflow, every column but ``seconds``.

    python tests/cluster/compare.py RUN_A RUN_B

compares ``results/recovery.tsv`` and ``results/sbc/recovery.tsv`` of the two run
directories: same columns, same rows (in any order), and exactly equal values (text as
written, so floats are compared to the last digit). Exits 1 and prints the first
differences if they are not equal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

TABLES = ["results/recovery.tsv", "results/sbc/recovery.tsv"]
KEYS = ["model", "method", "cell", "n_trials", "replicate"]
IGNORED = ["seconds"]


def read(path: Path) -> pd.DataFrame:
    """The table as text, without ignored columns, sorted by its key columns."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    table = table.drop(columns=[c for c in IGNORED if c in table.columns])
    return table.sort_values(KEYS).reset_index(drop=True)


def differences(a: Path, b: Path) -> list[str]:
    """Every difference between two tables, as readable lines (empty if equal)."""
    left, right = read(a), read(b)
    if list(left.columns) != list(right.columns):
        return [f"columns differ: {list(left.columns)} != {list(right.columns)}"]
    if len(left) != len(right):
        return [f"{len(left)} rows != {len(right)} rows"]
    out = []
    for column in left.columns:
        for i in (left[column] != right[column]).to_numpy().nonzero()[0]:
            key = ", ".join(f"{k}={left.at[i, k]}" for k in KEYS)
            out.append(f"{column} ({key}): {left.at[i, column]!r} != {right.at[i, column]!r}")
    return out


def main(run_a: str, run_b: str) -> int:
    failed = False
    for name in TABLES:
        a, b = Path(run_a) / name, Path(run_b) / name
        diff = differences(a, b)
        rows = len(read(a)) if not diff else "?"
        if diff:
            failed = True
            print(f"DIFFERENT {name}: {len(diff)} difference(s)")
            for line in diff[:20]:
                print(f"  {line}")
        else:
            cols = len(read(a).columns)
            print(f"equal {name}: {rows} rows x {cols} columns (all but {', '.join(IGNORED)})")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
