"""Paths, grid cells and input/params functions shared by the rules.

Every rule's ``run:`` block is one call of a function of ``rlrecover.jobs``.

This file defines no rules. Everything that reads ``config`` is a function, so it
sees the validated config with its defaults filled in.
"""

import contextlib
import gc
import itertools
import os
import posixpath
import sys
import time

from rlrecover import interrupt, jobs
from rlrecover.qlearning import PARAMS
from rlrecover.seeds import format_value
from rlrecover.summary import METHODS

# Canonical grid values as written by rlrecover.seeds.format_value ("{:.12g}"):
# "5", "0.5", "2.5", "1e-05", "1e+20". Grid values are never negative.
NUMBER_REGEX = r"[0-9]+(\.[0-9]+)?(e[+-][0-9]+)?"

TABLES = {
    "recovery_metrics": "results/tables/recovery_metrics.tsv",
    "coverage": "results/tables/coverage.tsv",
    "coverage_curve": "results/tables/coverage_curve.tsv",
    "diagnostics": "results/tables/diagnostics.tsv",
    "runtime": "results/tables/runtime.tsv",
    "grid_map": "results/tables/grid_map.tsv",
    "tradeoff": "results/tables/tradeoff.tsv",
    "design": "results/tables/design.tsv",
    "design_cells": "results/tables/design_cells.tsv",
}

PLOTS = {
    "recovery_alpha": "results/plots/recovery_alpha.png",
    "recovery_beta": "results/plots/recovery_beta.png",
    "coverage": "results/plots/coverage.png",
    "coverage_curve": "results/plots/coverage_curve.png",
    "map_bias": "results/plots/map_bias.png",
    "map_rmse": "results/plots/map_rmse.png",
    "map_coverage90": "results/plots/map_coverage90.png",
    "map_flagged": "results/plots/map_flagged.png",
    "tradeoff": "results/plots/tradeoff.png",
    "design": "results/plots/design.png",
}

SBC_TABLES = {
    "sbc": "results/tables/sbc.tsv",
    "sbc_coverage_curve": "results/tables/sbc_coverage_curve.tsv",
}

SBC_PLOTS = {
    "sbc_ranks": "results/plots/sbc_ranks.png",
    "sbc_ecdf": "results/plots/sbc_ecdf.png",
    "sbc_coverage_curve": "results/plots/sbc_coverage_curve.png",
}

# The grid's jobs run before the SBC's (Snakemake starts ready jobs of higher priority
# first), so the grid's tables and figures, the longest work after the sampling, are
# made while the SBC batches sample, in a process of their own (rule ``plots``). What
# is left after the last fit is the SBC's tables and figures, about 2 s. (With the SBC
# jobs first, the grid's figures ran after the last fit: 8-13 s, one core mostly idle.)
SBC_PRIORITY = -1
# The grid's datasets are simulated first of all (a job takes milliseconds). Among
# ready jobs of equal priority Snakemake's scheduler prefers the larger inputs, so with
# all data there the cells with the most trials are fitted first and those with the
# fewest last: the grid's last jobs are short, and both cores finish together.
SIMULATE_PRIORITY = 1

EXACT_TABLE = "results/tables/exact_check.tsv"
EXACT_PLOT = "results/plots/exact_check.png"

# Config sections each kind of job depends on. A job only receives these (via
# params), so editing an unrelated section, or adding a grid value, does not make
# Snakemake rerun it. Each job gets ``task`` with its own number of trials only.
SIMULATE_SECTIONS = ("seed", "task", "replicates")
# A fit job gets only what its results depend on: maximum likelihood nothing of the
# sampler, sampling nothing of the MLE or of the coverage levels, and the summaries of
# the draws only what the intervals need. So editing sampler settings refits no MLE,
# and editing coverage_levels resamples nothing. SBC jobs also need the priors, from
# which their truths are drawn again.
MLE_SECTIONS = ("seed", "task", "mle", "coverage_levels")
BAYES_SECTIONS = ("seed", "task", "priors", "sampler")
SUMMARY_SECTIONS = ("seed", "task", "coverage_levels")
SBC_SIMULATE_SECTIONS = ("seed", "task", "priors")
EXACT_SECTIONS = ("seed", "task", "priors")


# ---------------------------------------------------------------------------
# Grid cells, numbers of trials, SBC batches and the files they produce
# ---------------------------------------------------------------------------


def grid_labels(param):
    """Canonical text of the configured values of ``param``, as used in paths."""
    return [format_value(v) for v in config["grid"][param]]


def trials_values():
    """The configured numbers of trials per dataset, as a list."""
    n = config["task"]["n_trials"]
    return [int(x) for x in (n if isinstance(n, list) else [n])]


def cells():
    """Every configured (number of trials, cell) as ``{"trials": n, param: label}``."""
    grid = list(itertools.product(*(grid_labels(p) for p in PARAMS)))
    return [
        {"trials": n, **dict(zip(PARAMS, values))}
        for n in trials_values()
        for values in grid
    ]


def cell_path():
    """A cell's part of a path, with wildcards: ``trials~{trials}/alpha~{alpha}/...``."""
    return posixpath.join("trials~{trials}", *(f"{p}~{{{p}}}" for p in PARAMS))


def fit_files():
    return [path.format(**cell) for cell in cells() for path in fit_outputs()]


def sbc_on():
    """SBC runs when its number of datasets is positive."""
    return config["sbc"]["draws"] > 0


def sbc_trials():
    """Trials per SBC dataset: ``sbc.n_trials``, else the first of ``task.n_trials``."""
    n = config["sbc"]["n_trials"]
    return int(n) if n is not None else trials_values()[0]


def sbc_batches():
    """SBC batch numbers: batch k holds the datasets ``k * batch`` to ``(k + 1) * batch - 1``."""
    draws, batch = config["sbc"]["draws"], config["sbc"]["batch"]
    return list(range(-(-draws // batch)))


def sbc_range(k):
    """``(start, stop)`` SBC indices of batch ``k``."""
    draws, batch = config["sbc"]["draws"], config["sbc"]["batch"]
    return (k * batch, min(draws, (k + 1) * batch))


def sbc_fit_files():
    return [p.format(batch=k) for k in sbc_batches() for p in sbc_fit_outputs()]


def pymc_methods():
    """Configured Bayesian methods: the ones the exact posterior checks."""
    return [m for m in fit_methods() if m != "mle"]


def exact_sbc_batches():
    """SBC batches holding datasets that the exact check covers (the first ones)."""
    if not (pymc_methods() and sbc_on()):
        return []
    n_sbc = config["exact_check"]["sbc"]
    return [k for k in sbc_batches() if sbc_range(k)[0] < n_sbc]


def exact_files():
    """Exact-check tables of every grid cell and SBC batch that has datasets to check."""
    if not pymc_methods():
        return []
    files = []
    if config["exact_check"]["per_cell"] > 0:
        files += [f"results/exact/{cell_path()}.tsv".format(**c) for c in cells()]
    files += [f"results/exact/sbc/batch~{k}.tsv" for k in exact_sbc_batches()]
    return files


# ---------------------------------------------------------------------------
# Input and params functions (used instead of lambdas in the rules)
# ---------------------------------------------------------------------------


def config_subset(keys, n_trials):
    """The config sections ``keys``, with ``task.n_trials`` set to one number."""
    out = {k: config[k] for k in keys}
    if "task" in out:
        out["task"] = {**config["task"], "n_trials": int(n_trials)}
    return out


def simulate_config(wildcards):
    """Config sections a simulated dataset depends on."""
    return config_subset(SIMULATE_SECTIONS, wildcards.trials)


def sbc_simulate_config(wildcards):
    """Config sections an SBC dataset depends on."""
    return config_subset(SBC_SIMULATE_SECTIONS, sbc_trials())


def mle_config(wildcards):
    """Config sections a grid cell's maximum-likelihood fits depend on."""
    return config_subset(MLE_SECTIONS, wildcards.trials)


def bayes_config(wildcards):
    """Config sections a grid cell's posterior draws depend on."""
    return config_subset(BAYES_SECTIONS, wildcards.trials)


def summary_config(wildcards):
    """Config sections the summaries of a grid cell's draws depend on."""
    return config_subset(SUMMARY_SECTIONS, wildcards.trials)


def sbc_mle_config(wildcards):
    """Config sections an SBC batch's maximum-likelihood fits depend on."""
    return config_subset((*MLE_SECTIONS, "priors"), sbc_trials())


def sbc_bayes_config(wildcards):
    """Config sections an SBC batch's posterior draws depend on."""
    return config_subset(BAYES_SECTIONS, sbc_trials())


def sbc_summary_config(wildcards):
    """Config sections the summaries of an SBC batch's draws depend on."""
    return config_subset((*SUMMARY_SECTIONS, "priors"), sbc_trials())


def cell_unit(wildcards):
    """A grid cell's datasets, as the fit jobs take them: its truth and replicates."""
    return {"truth": cell_truth(wildcards), "replicates": config["replicates"]}


def sbc_unit(wildcards):
    """An SBC batch's datasets, as the fit jobs take them: ``(start, stop)`` indices."""
    return {"sbc": sbc_range(int(wildcards.batch))}


def checkpoint_dir(wildcards):
    """Where a grid cell's sampling job keeps the datasets it has finished."""
    return f"results/checkpoints/{cell_path()}".format(**wildcards)


def sbc_checkpoint_dir(wildcards):
    """Where an SBC batch's sampling job keeps the datasets it has finished."""
    return f"results/sbc/checkpoints/batch~{wildcards.batch}"


def sbc_indices(wildcards):
    """``(start, stop)`` SBC indices of the job's batch."""
    return sbc_range(int(wildcards.batch))


def exact_config(wildcards):
    """Config sections an exact posterior depends on (trials from the job)."""
    trials = wildcards.get("trials") or sbc_trials()
    return config_subset(EXACT_SECTIONS, trials)


def exact_replicates(wildcards):
    """The datasets of the job to check: the first ones of a cell or of the SBC run."""
    if "batch" in wildcards.keys():
        start, stop = sbc_range(int(wildcards.batch))
        return list(range(start, min(stop, config["exact_check"]["sbc"])))
    return list(range(min(config["replicates"], config["exact_check"]["per_cell"])))


def exact_draws(wildcards):
    """The posterior draws of the job's datasets, by PyMC method."""
    if "batch" in wildcards.keys():
        return {
            m: f"results/sbc/draws/{m}/batch~{wildcards.batch}.npz"
            for m in pymc_methods()
        }
    return {
        m: f"results/draws/{m}/{cell_path()}.npz".format(**wildcards)
        for m in pymc_methods()
    }


def exact_inputs(wildcards):
    """The job's data table and its posterior draws (``draws_<method>``)."""
    if "batch" in wildcards.keys():
        data = f"results/sbc/data/batch~{wildcards.batch}.tsv"
    else:
        data = f"results/data/{cell_path()}.tsv".format(**wildcards)
    return {
        "data": data,
        **{f"draws_{m}": p for m, p in exact_draws(wildcards).items()},
    }


def exact_draws_paths(input):
    """The draws files among a job's inputs, by method."""
    return {
        k.removeprefix("draws_"): v for k, v in input.items() if k.startswith("draws_")
    }


def fit_methods():
    """Configured methods in canonical order."""
    return [m for m in METHODS if m in config["methods"]]


def fit_outputs():
    """Result tables of a grid cell, one per configured method (with wildcards)."""
    return [f"results/fits/{m}/{cell_path()}.tsv" for m in fit_methods()]


def sbc_fit_outputs():
    """Result tables of an SBC batch, one per configured method (with wildcards)."""
    return [f"results/sbc/fits/{m}/batch~{{batch}}.tsv" for m in fit_methods()]


def draws_outputs():
    """Posterior draws of a grid cell, one file per PyMC method (with wildcards).

    One sampling job per cell draws them all: the models are compiled once per
    process anyway, and a cell's datasets are read and checked once.
    """
    return [f"results/draws/{m}/{cell_path()}.npz" for m in pymc_methods()]


def sbc_draws_outputs():
    """Posterior draws of an SBC batch, one file per PyMC method (with wildcards)."""
    return [f"results/sbc/draws/{m}/batch~{{batch}}.npz" for m in pymc_methods()]


def bayes_fit_outputs():
    """Result tables of a grid cell's PyMC methods (with wildcards)."""
    return [f"results/fits/{m}/{cell_path()}.tsv" for m in pymc_methods()]


def sbc_bayes_fit_outputs():
    """Result tables of an SBC batch's PyMC methods (with wildcards)."""
    return [f"results/sbc/fits/{m}/batch~{{batch}}.tsv" for m in pymc_methods()]


def all_fit_files(wildcards):
    """Fit tables of every configured method and cell."""
    return fit_files()


def all_sbc_fit_files(wildcards):
    """Fit tables of every configured method and SBC batch."""
    return sbc_fit_files()


def all_exact_files(wildcards):
    """Exact-check tables of every checked dataset."""
    return exact_files()


def cell_truth(wildcards):
    """The true parameter values of a job's cell, as floats."""
    return {p: float(wildcards[p]) for p in PARAMS}


def design_params(wildcards):
    """The design targets, as the tables job takes them."""
    return config["design"]


def sbc_outputs():
    """SBC tables and figures, when SBC is on."""
    return [*SBC_TABLES.values(), *SBC_PLOTS.values()] if sbc_on() else []


def report_inputs(wildcards):
    """Every table (``table_<name>``) and figure (``plot_<name>``) the report shows."""
    tables = {"recovery": "results/recovery.tsv", **TABLES, "exact_check": EXACT_TABLE}
    plots = {**PLOTS, "exact_check": EXACT_PLOT}
    if sbc_on():
        tables.update(sbc_recovery="results/sbc/recovery.tsv", **SBC_TABLES)
        plots.update(SBC_PLOTS)
    return {
        **{f"table_{k}": v for k, v in tables.items()},
        **{f"plot_{k}": v for k, v in plots.items()},
    }


def report_tables(wildcards, input):
    """The report's tables by name, from the rule's inputs."""
    return {
        k.removeprefix("table_"): v for k, v in input.items() if k.startswith("table_")
    }


def report_images(wildcards, input):
    """The report's figures by name, from the rule's inputs."""
    return {
        k.removeprefix("plot_"): v for k, v in input.items() if k.startswith("plot_")
    }


# ---------------------------------------------------------------------------
# Interruptions
# ---------------------------------------------------------------------------


def prepare_run():
    """Make Ctrl-C stop running fits, and clear the locks of a killed run.

    Only in the main Snakemake process (not in the process of a single job). The run
    lock is an operating-system lock that dies with its process: whoever holds it
    knows that no other run is active here, so Snakemake lock files left by a killed
    run are stale and are removed (Snakemake would otherwise stop with a
    LockException until ``--unlock``). A second run started while one is active does
    not get the lock and is stopped by Snakemake's own lock, as before.
    """
    if not workflow.is_main_process:
        return
    interrupt.install_sigint_handler()
    if interrupt.hold_run_lock(os.getcwd()):
        for lock in interrupt.clear_stale_snakemake_locks(os.getcwd()):
            print(
                f"rlrecover: removed {lock}, left by a run that was killed",
                file=sys.stderr,
            )


def unthrottle_local_scheduler():
    """Switch off the job rate limit of a local run (the Snakemake scheduler's timers).

    Snakemake's command line always sets ``--max-jobs-per-timespan`` (default
    100/1s), and with that limit every pass of its scheduler that finds jobs waiting
    for a core arms a new one-second timer, which starts another pass. Each finished
    job adds such a timer for good, so after k jobs the scheduler runs about k passes
    a second, each checking the size of every ready job's input files. On the
    shipped study that kept the main thread busy a fifth of the time, competing for
    Python's lock with the jobs (which run as its threads): 190 s became 158 s
    without the limit. A local run starts at most ``--cores`` jobs at once anyway;
    the limit is meant for submitting to a cluster, where it is left as given.
    """
    scheduler = getattr(workflow, "scheduler", None)
    if workflow.local_exec and getattr(scheduler, "job_rate_limiter", None) is not None:
        scheduler.job_rate_limiter = None


def one_blas_thread_per_run():
    """In a threaded local run, give the process's BLAS pools one thread for good.

    Every job of such a run is a thread of this process declaring one thread, and
    BLAS pools are process-wide; OpenBLAS's idle threads would otherwise spin on the
    cores the jobs need (``rlrecover.jobs.one_blas_thread``).
    """
    if threaded_local_run():
        jobs.one_blas_thread()


def time_thread_jobs_only():
    """Benchmark the jobs that run as threads of this process by their wall time only.

    For a job that runs as a thread (threaded local runs, the default profile),
    Snakemake's ``benchmark:`` watches the whole Snakemake process: twice a second
    for its first 15 s it reads the process's memory map (``/proc/<pid>/smaps``,
    through ``psutil.Process.memory_full_info``), 13 ms of system time per read with
    PyMC and numba loaded, and the memory and CPU figures it records are those of the
    whole run, not of the job. On the shipped study these reads were about 10 s of the
    run's 17 s of system time. Here a thread job's benchmark records its wall time
    (``s``, ``h:m:s``) and leaves the process-wide columns ``NA``; a job that runs a
    process of its own (a ``shell:`` job, or every job with ``--workflow-profile
    none`` or on a cluster) is benchmarked by Snakemake as before.
    """
    if not (workflow.local_exec and workflow.is_main_process):
        return
    import snakemake.benchmark as benchmark

    measure = benchmark.benchmarked
    if getattr(measure, "wall_time_only", False):
        return

    @contextlib.contextmanager
    def benchmarked(
        pid=None, benchmark_record=None, interval=benchmark.BENCHMARK_INTERVAL
    ):
        if pid is not None:  # a job's own process: measured as Snakemake does
            with measure(pid, benchmark_record, interval) as record:
                yield record
            return
        record = benchmark_record or benchmark.BenchmarkRecord()
        start = time.time()
        try:
            yield record
        finally:
            record.running_time = time.time() - start

    benchmarked.wall_time_only = True
    benchmark.benchmarked = benchmarked


def threaded_local_run():
    """Whether this is Snakemake's main process of a local run whose jobs are threads."""
    return (
        workflow.local_exec
        and workflow.is_main_process
        and workflow.execution_settings.use_threads
    )


def start_figure_workers():
    """Start the server of the figure workers now if the run will draw figures.

    The ``plots`` and ``sbc_plots`` jobs draw their figures in worker processes forked
    by a server that has imported matplotlib (``rlrecover.jobs.draw_figures``).
    Started when the run starts, the server is ready when those jobs run, so its
    imports (about 1.3 s) are not on the run's critical path. Only in a local run
    whose jobs are threads of this process: elsewhere each of those jobs is a process
    of its own.
    """
    if not threaded_local_run():
        return
    drawing = ("plots", "sbc_plots")
    if any(job.rule.name in drawing for job in workflow.dag.needrun_jobs()):
        jobs.start_figure_workers()


# While the warm-up process compiles the models, the sampling jobs rank this much
# lower, so the run's simulations and maximum-likelihood fits go first.
WARMUP_PRIORITY_DROP = 10


def scheduler_priorities():
    """Snakemake's own priority of each job (``dag._priority``), or None if not there.

    The onstart hooks reorder ready jobs through it; with another Snakemake whose
    scheduler keeps them elsewhere they reorder nothing.
    """
    priorities = getattr(workflow.dag, "_priority", None)
    return priorities if isinstance(priorities, dict) else None


def start_model_warmup():
    """Compile the PyMC models in a process of their own while the first jobs run.

    Only in a local run whose jobs are threads of this process and that will sample
    with nutpie. The compile (about 10 s of one core with empty caches) then runs on
    one core while this process runs the simulations and maximum-likelihood fits on
    the other, instead of holding both sampling slots waiting
    (``rlrecover.jobs.warm_up_models``); the sampling jobs load the compiled models
    from the caches. Until the first model is ready, the sampling jobs rank
    ``WARMUP_PRIORITY_DROP`` lower in Snakemake's scheduler, so other ready jobs go
    first (a priority orders ready jobs, it never holds one back). Once a warm-up
    has compiled the models into the current caches, later runs start none and
    change no priority: the sampling jobs load the models in under a second.
    """
    if not (
        threaded_local_run()
        and pymc_methods()
        and config["sampler"]["backend"] == "nutpie"
    ):
        return
    cores = workflow.global_resources.get("_cores")
    cores = getattr(cores, "value", cores)  # a Resource record in Snakemake 9
    if isinstance(cores, int) and cores < 2:
        return  # no idle core to compile on: the sampling jobs compile as before
    dag = workflow.dag
    sampling = [
        job
        for job in dag.needrun_jobs()
        if job.rule.name in ("fit_bayes", "sbc_fit_bayes")
    ]
    if not sampling:
        return
    priorities = scheduler_priorities()
    ranked = priorities is not None and all(job in priorities for job in sampling)
    if ranked:
        for job in sampling:
            priorities[job] -= WARMUP_PRIORITY_DROP

    def restore():
        for job in sampling:
            priorities[job] += WARMUP_PRIORITY_DROP

    kernels = [
        name
        for name, needed in (("exact", bool(exact_files())), ("ecdf_band", sbc_on()))
        if needed
    ]
    started = jobs.warm_up_models(
        pymc_methods(), config, on_ready=restore if ranked else None, kernels=kernels
    )
    if ranked and not started:
        restore()


def exact_checked_sbc_batches_first():
    """Sample the SBC batches whose datasets are checked exactly before the others.

    Among ready jobs of equal priority Snakemake's scheduler prefers the larger
    inputs, and the SBC batches' data files differ only by chance, so the batches
    that the exact check needs (``exact_check.sbc``, the first datasets) could come
    last: then their exact checks and ``exact_check.tsv`` ran after the last fit, one
    core idle (1.5 s on the shipped study). Their simulations and samplings ranked
    half a step higher (still below the grid's jobs), they are sampled first and
    checked while the others sample. Only reorders ready jobs; nothing if Snakemake's
    priorities are not where expected.
    """
    checked = {str(k) for k in exact_sbc_batches()}
    priorities = scheduler_priorities()
    if not checked or priorities is None:
        return
    for job in workflow.dag.needrun_jobs():
        if (
            job.rule.name in ("sbc_simulate", "sbc_fit_bayes")
            and job.wildcards_dict.get("batch") in checked
        ):
            if job in priorities:
                priorities[job] += 0.5


def skip_final_collection():
    """Let the Snakemake process exit without a last garbage collection of its objects.

    With PyMC, PyTensor and matplotlib loaded (jobs run as threads of this process),
    the interpreter's final collection takes about 0.9 s (measured: a process that
    imports them exits in 0.93 s, 0.08 s after ``gc.freeze()``). Called when the run
    has ended; the operating system frees the memory either way.
    """
    gc.freeze()
