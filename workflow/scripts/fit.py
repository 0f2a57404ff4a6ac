"""Fit every replicate of one cell with the job's methods -> results/fits/M/alpha~A/beta~B.tsv."""

import _job

log = _job.start(snakemake)

import pandas as pd  # noqa: E402

from rlrecover import fitting  # noqa: E402
from rlrecover.config import Settings  # noqa: E402
from rlrecover.summary import summary_columns  # noqa: E402

settings = Settings.from_config(snakemake.params.config)
alpha = float(snakemake.wildcards.alpha)
beta = float(snakemake.wildcards.beta)
data = pd.read_csv(snakemake.input.data, sep="\t")
columns = summary_columns(settings.coverage_levels)

for method, path in zip(snakemake.params.methods, snakemake.output, strict=True):
    n = data["replicate"].nunique()
    log(f"fitting {n} datasets of alpha={alpha}, beta={beta} with {method}")
    result = fitting.fit_cell(method, data, alpha, beta, settings, log)
    if list(result.columns) != columns:
        raise ValueError(f"fit_cell returned columns {list(result.columns)}, expected {columns}")
    _job.write_tsv(result, path)
    log(f"wrote {len(result)} rows to {path}")
