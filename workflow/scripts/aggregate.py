"""Stack the fit tables of all methods and cells -> results/recovery.tsv.

Tables are read as text, so values are copied exactly (no float re-formatting).
"""

import _job

log = _job.start(snakemake)

import pandas as pd  # noqa: E402

frames = []
columns = None
for path in snakemake.input:
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if columns is None:
        columns = list(frame.columns)
    elif list(frame.columns) != columns:
        raise ValueError(f"{path} has columns {list(frame.columns)}, expected {columns}")
    frames.append(frame)

recovery = pd.concat(frames, ignore_index=True)
_job.write_tsv(recovery, snakemake.output[0])
log(f"wrote {len(recovery)} rows from {len(frames)} tables to {snakemake.output[0]}")
