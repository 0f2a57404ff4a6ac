"""Simulate the replicate datasets of one grid cell -> results/data/alpha~A/beta~B.tsv."""

import _job

log = _job.start(snakemake)

from rlrecover.config import TaskSettings  # noqa: E402
from rlrecover.data import simulate_cell  # noqa: E402

cfg = snakemake.params.config
truth = dict(snakemake.params.truth)
replicates = int(cfg["replicates"])

log(f"simulating {replicates} datasets of {truth}")
data = simulate_cell(int(cfg["seed"]), truth, replicates, TaskSettings.from_config(cfg["task"]))
_job.write_tsv(data, snakemake.output[0])
log(f"wrote {len(data)} rows to {snakemake.output[0]}")
