"""Fit every replicate of one cell with one method -> results/fits/M/alpha~A/beta~B.tsv."""

import _job

log = _job.start(snakemake)

import pandas as pd  # noqa: E402

from rlrecover import fitting  # noqa: E402
from rlrecover.config import Settings  # noqa: E402
from rlrecover.summary import summary_columns  # noqa: E402

settings = Settings.from_config(snakemake.params.config)
method = snakemake.wildcards.method
alpha = float(snakemake.wildcards.alpha)
beta = float(snakemake.wildcards.beta)

data = pd.read_csv(snakemake.input.data, sep="\t")
log(f"fitting {data['replicate'].nunique()} datasets of alpha={alpha}, beta={beta} with {method}")
result = fitting.fit_cell(method, data, alpha, beta, settings, log)

columns = summary_columns(settings.coverage_levels)
if list(result.columns) != columns:
    missing = [c for c in columns if c not in result.columns]
    extra = [c for c in result.columns if c not in columns]
    raise ValueError(f"fit_cell returned wrong columns: missing {missing}, unexpected {extra}")
_job.write_tsv(result, snakemake.output[0])
log(f"wrote {len(result)} rows to {snakemake.output[0]}")
