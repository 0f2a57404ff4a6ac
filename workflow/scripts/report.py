"""The HTML report for the scientist -> results/report.html."""

import _job

log = _job.start(snakemake)

import pandas as pd  # noqa: E402

from rlrecover.report import write_report  # noqa: E402
from rlrecover.summary import read_recovery  # noqa: E402


def read(path):
    return pd.read_csv(path, sep="\t")


inp = snakemake.input
write_report(
    snakemake.output[0],
    config=dict(snakemake.params.config),
    recovery=read_recovery(inp.recovery),
    metrics=read(inp.metrics),
    coverage=read(inp.coverage),
    diagnostics=read(inp.diagnostics),
    runtime=read(inp.runtime),
    images={
        "recovery_alpha": inp.recovery_alpha,
        "recovery_beta": inp.recovery_beta,
        "coverage": inp.coverage_plot,
    },
)
log(f"wrote {snakemake.output[0]}")
