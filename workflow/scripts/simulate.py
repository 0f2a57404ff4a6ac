"""Simulate the replicate datasets of one grid cell -> results/data/alpha~A/beta~B.tsv."""

import _job

log = _job.start(snakemake)

from rlrecover.config import Settings  # noqa: E402
from rlrecover.data import simulate_cell  # noqa: E402

settings = Settings.from_config(snakemake.params.config)
alpha = float(snakemake.wildcards.alpha)
beta = float(snakemake.wildcards.beta)
replicates = int(snakemake.params.config["replicates"])

log(f"simulating {replicates} datasets of alpha={alpha}, beta={beta}")
data = simulate_cell(settings.seed, alpha, beta, replicates, settings.task)
_job.write_tsv(data, snakemake.output[0])
log(f"wrote {len(data)} rows to {snakemake.output[0]}")
