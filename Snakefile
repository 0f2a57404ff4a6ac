"""Parameter recovery of learning models of a two-armed bandit.

Run ``snakemake --cores N`` from this directory; edit ``config.yaml`` first.
"""

from snakemake.utils import min_version

min_version("9.10")


include: "workflow/rules/config.smk"
include: "workflow/rules/common.smk"


# A malformed config.yaml (or --configfile, or --config value) is reported with its
# file, line and column before Snakemake parses it (its own message says neither).
check_config_files("config.yaml")


configfile: "config.yaml"


# Stops with every invalid key and value listed, then fills in the defaults.
validate_workflow_config("workflow/schemas/config.schema.yaml")


# Ctrl-C stops running fits within a second; a killed run leaves no stale lock.
prepare_run()


include: "workflow/rules/inputs.smk"


# A damaged data file that would be refitted stops the run before its fits are deleted.
check_data_of_finished_fits()


report: "workflow/report/workflow.rst"


wildcard_constraints:
    model=MODEL_REGEX,
    cell=CELL_REGEX,
    trials="[0-9]+",
    batch="[0-9]+",


include: "workflow/rules/simulate.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/exact.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    default_target: True
    input:
        all_outputs(),


# A local run needs no job rate limit, and Snakemake's costs a busy scheduler; BLAS
# gets one thread per process, as every job is one of its threads; a job that runs
# as a thread is benchmarked by its wall time; the figure workers' server
# starts early, so that it is ready at the end; the SBC batches that are checked
# exactly sample first; the models compile in a process of their own while the
# simulations and MLE fits run (see common.smk).
onstart:
    unthrottle_local_scheduler()
    one_blas_thread_per_run()
    time_thread_jobs_only()
    start_figure_workers()
    exact_checked_sbc_batches_first()
    start_model_warmup()


# The run has ended: exit without the interpreter's last, slow garbage collection.
onsuccess:
    skip_final_collection()


onerror:
    skip_final_collection()
