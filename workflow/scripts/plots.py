"""Figures of the recovery study -> results/plots/*.png."""

import _job

log = _job.start(snakemake)

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from rlrecover.plots import plot_coverage, plot_recovery  # noqa: E402
from rlrecover.summary import read_recovery  # noqa: E402

recovery = read_recovery(snakemake.input.recovery)
coverage = pd.read_csv(snakemake.input.coverage, sep="\t")

for param in ("alpha", "beta"):
    path = snakemake.output[f"recovery_{param}"]
    plot_recovery(recovery, param, path)
    log(f"wrote {path}")
plot_coverage(coverage, snakemake.output.coverage)
log(f"wrote {snakemake.output.coverage}")
