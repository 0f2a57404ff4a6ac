"""Summary tables of the recovery study -> results/tables/*.tsv."""

import _job

log = _job.start(snakemake)


from rlrecover.analysis import (  # noqa: E402
    coverage_table,
    diagnostics,
    recovery_metrics,
    runtime_table,
)
from rlrecover.summary import read_recovery  # noqa: E402

recovery = read_recovery(snakemake.input.recovery)
levels = [float(x) for x in snakemake.params.levels]
log(f"read {len(recovery)} fits")

tables = {
    "recovery_metrics": recovery_metrics(recovery),
    "coverage": coverage_table(recovery, levels),
    "diagnostics": diagnostics(recovery),
    "runtime": runtime_table(recovery),
}
for name, table in tables.items():
    _job.write_tsv(table, snakemake.output[name])
    log(f"wrote {len(table)} rows to {snakemake.output[name]}")
