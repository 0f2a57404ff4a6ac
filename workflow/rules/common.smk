"""Paths, models, cells and input/params functions shared by the rules.

Every rule's ``run:`` block is one call of a function of ``rlrecover.run.jobs``.

This file defines no rules. Everything that reads ``config`` is a function, so it
sees the validated config with its defaults filled in.
"""

import contextlib
import functools
import gc
import os
import sys
import time

from rlrecover import models as model_library
from rlrecover.report.layout import SBC_FIGURES, SBC_TABLES, figure_names, table_names
from rlrecover.run import interrupt, jobs
from rlrecover.summary import METHODS, cell_label
from rlrecover.truths import design_kind, model_truths

# Canonical values as written by rlrecover.seeds.format_value ("{:.12g}"): "5", "0.5",
# "2.5", "1e-05", "1e+20". True values are never negative.
NUMBER_REGEX = r"[0-9]+(\.[0-9]+)?(e[+-][0-9]+)?"
# A model's name, and a cell: its truth as ``param~value`` parts joined by "/".
MODEL_REGEX = r"[a-z][a-z0-9_]*"
CELL_REGEX = rf"[a-z][a-z0-9_]*~{NUMBER_REGEX}(/[a-z][a-z0-9_]*~{NUMBER_REGEX})*"

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

SUMMARY_TABLE = "results/tables/summary.tsv"

# Config sections each kind of job depends on. A job only receives these (via
# params), so editing an unrelated section, another model's entry, or adding a grid
# value, does not make Snakemake rerun it. Each job gets ``task`` with its own number
# of trials only, ``model`` (the model's name) and, where named, the model's
# ``priors`` and ``replicates``.
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
# Models, cells, numbers of trials, SBC batches and the files they produce
# ---------------------------------------------------------------------------


def model_names():
    """The study's models, in the order of ``config.yaml``."""
    return list(config["models"])


def model_of(name):
    """The library's record of model ``name``."""
    return model_library.get(name)


def model_entry(name):
    """The validated config entry of model ``name``."""
    return config["models"][name]


def model_design(name):
    """How model ``name``'s truths are given: ``grid``, ``sobol`` or ``prior``."""
    return design_kind(model_entry(name))


@functools.cache
def truths_of(name):
    """The truths of model ``name`` (computed once per run: the config is fixed)."""
    return model_truths(model_of(name), model_entry(name), config["seed"])


def replicates_of(name):
    """Datasets per truth and number of trials of model ``name``."""
    return int(model_entry(name).get("replicates", config["replicates"]))


def trials_values():
    """The configured numbers of trials per dataset, as a list."""
    n = config["task"]["n_trials"]
    return [int(x) for x in (n if isinstance(n, list) else [n])]


def cells():
    """Every (model, number of trials, truth) as ``{"model", "trials", "cell"}``."""
    return [
        {"model": m, "trials": n, "cell": cell_label(truth)}
        for m in model_names()
        for n in trials_values()
        for truth in truths_of(m)
    ]


def cell_path():
    """A cell's part of a path, with wildcards: ``{model}/trials~{trials}/{cell}``."""
    return "{model}/trials~{trials}/{cell}"


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


def sbc_units():
    """Every (model, SBC batch) as ``{"model", "batch"}``."""
    if not sbc_on():
        return []
    return [{"model": m, "batch": k} for m in model_names() for k in sbc_batches()]


def sbc_range(k):
    """``(start, stop)`` SBC indices of batch ``k``."""
    draws, batch = config["sbc"]["draws"], config["sbc"]["batch"]
    return (k * batch, min(draws, (k + 1) * batch))


def fit_files():
    return [path.format(**cell) for cell in cells() for path in fit_outputs()]


def sbc_fit_files():
    return [p.format(**unit) for unit in sbc_units() for p in sbc_fit_outputs()]


def pymc_methods():
    """Configured Bayesian methods: the ones the exact posterior checks."""
    return [m for m in fit_methods() if m != "mle"]


def exact_sbc_batches():
    """SBC batches holding datasets that the exact check covers (the first ones)."""
    if not (pymc_methods() and sbc_on()):
        return []
    n_sbc = config["exact_check"]["sbc"]
    return [k for k in sbc_batches() if sbc_range(k)[0] < n_sbc]


def exact_files(model=None):
    """Exact-check tables of every cell and SBC batch with datasets to check (of a model)."""
    if not pymc_methods():
        return []
    names = model_names() if model is None else [model]
    files = []
    if config["exact_check"]["per_cell"] > 0:
        files += [
            f"results/exact/{cell_path()}.tsv".format(**c)
            for c in cells()
            if c["model"] in names
        ]
    files += [
        f"results/exact/{m}/sbc/batch~{k}.tsv"
        for m in names
        for k in exact_sbc_batches()
    ]
    return files


def table_path(model, name):
    """A model's table: ``results/tables/{model}/{name}.tsv``."""
    return f"results/tables/{model}/{name}.tsv"


def plot_path(model, name):
    """A model's figure: ``results/plots/{model}/{name}.png``."""
    return f"results/plots/{model}/{name}.png"


def model_tables(model):
    """The tables of a model's ``tables`` job, by name."""
    names = table_names(model_of(model), model_design(model))
    return {n: table_path(model, n) for n in names}


def model_plots(model):
    """The figures of a model's ``plots`` job, by name."""
    names = figure_names(model_of(model), model_design(model))
    return {n: plot_path(model, n) for n in names}


def all_outputs():
    """Every table and figure of the study (the report's inputs and more)."""
    out = ["results/recovery.tsv", SUMMARY_TABLE, "results/report.html"]
    for m in model_names():
        out += [*model_tables(m).values(), *model_plots(m).values()]
        out += [table_path(m, "exact_check"), plot_path(m, "exact_check")]
        if sbc_on():
            out += [table_path(m, n) for n in SBC_TABLES]
            out += [plot_path(m, n) for n in SBC_FIGURES]
    if sbc_on():
        out.append("results/sbc/recovery.tsv")
    return out


# ---------------------------------------------------------------------------
# Input and params functions (used instead of lambdas in the rules)
# ---------------------------------------------------------------------------


def config_subset(keys, n_trials, model):
    """The config sections ``keys`` of a job of ``model`` at ``n_trials`` trials.

    ``task`` has its number of trials set to ``n_trials``; ``priors`` and
    ``replicates`` are the model's.
    """
    out = {"model": model}
    for k in keys:
        if k == "priors":
            out[k] = model_entry(model)["priors"]
        elif k == "replicates":
            out[k] = replicates_of(model)
        elif k == "task":
            out[k] = {**config["task"], "n_trials": int(n_trials)}
        else:
            out[k] = config[k]
    return out


def simulate_config(wildcards):
    """Config sections a simulated dataset depends on."""
    return config_subset(SIMULATE_SECTIONS, wildcards.trials, wildcards.model)


def sbc_simulate_config(wildcards):
    """Config sections an SBC dataset depends on."""
    return config_subset(SBC_SIMULATE_SECTIONS, sbc_trials(), wildcards.model)


def mle_config(wildcards):
    """Config sections a cell's maximum-likelihood fits depend on."""
    return config_subset(MLE_SECTIONS, wildcards.trials, wildcards.model)


def bayes_config(wildcards):
    """Config sections a cell's posterior draws depend on."""
    return config_subset(BAYES_SECTIONS, wildcards.trials, wildcards.model)


def summary_config(wildcards):
    """Config sections the summaries of a cell's draws depend on."""
    return config_subset(SUMMARY_SECTIONS, wildcards.trials, wildcards.model)


def sbc_mle_config(wildcards):
    """Config sections an SBC batch's maximum-likelihood fits depend on."""
    return config_subset((*MLE_SECTIONS, "priors"), sbc_trials(), wildcards.model)


def sbc_bayes_config(wildcards):
    """Config sections an SBC batch's posterior draws depend on."""
    return config_subset(BAYES_SECTIONS, sbc_trials(), wildcards.model)


def sbc_summary_config(wildcards):
    """Config sections the summaries of an SBC batch's draws depend on."""
    return config_subset((*SUMMARY_SECTIONS, "priors"), sbc_trials(), wildcards.model)


def cell_unit(wildcards):
    """A cell's datasets, as the fit jobs take them: its truth and replicates."""
    return {
        "truth": cell_truth(wildcards),
        "replicates": replicates_of(wildcards.model),
    }


def sbc_unit(wildcards):
    """An SBC batch's datasets, as the fit jobs take them: ``(start, stop)`` indices."""
    return {"sbc": sbc_range(int(wildcards.batch))}


def checkpoint_dir(wildcards):
    """Where a cell's sampling job keeps the datasets it has finished."""
    return f"results/checkpoints/{cell_path()}".format(**wildcards)


def sbc_checkpoint_dir(wildcards):
    """Where an SBC batch's sampling job keeps the datasets it has finished."""
    return f"results/sbc/checkpoints/{wildcards.model}/batch~{wildcards.batch}"


def sbc_indices(wildcards):
    """``(start, stop)`` SBC indices of the job's batch."""
    return sbc_range(int(wildcards.batch))


def exact_config(wildcards):
    """Config sections an exact posterior depends on (trials from the job)."""
    trials = wildcards.get("trials") or sbc_trials()
    return config_subset(EXACT_SECTIONS, trials, wildcards.model)


def exact_replicates(wildcards):
    """The datasets of the job to check: the first ones of a cell or of the SBC run."""
    if "batch" in wildcards.keys():
        start, stop = sbc_range(int(wildcards.batch))
        return list(range(start, min(stop, config["exact_check"]["sbc"])))
    n = min(replicates_of(wildcards.model), config["exact_check"]["per_cell"])
    return list(range(n))


def exact_draws(wildcards):
    """The posterior draws of the job's datasets, by PyMC method."""
    if "batch" in wildcards.keys():
        return {
            m: f"results/sbc/draws/{wildcards.model}/{m}/batch~{wildcards.batch}.npz"
            for m in pymc_methods()
        }
    return {
        m: f"results/draws/{wildcards.model}/{m}/trials~{wildcards.trials}/{wildcards.cell}.npz"
        for m in pymc_methods()
    }


def exact_inputs(wildcards):
    """The job's data table and its posterior draws (``draws_<method>``)."""
    if "batch" in wildcards.keys():
        data = f"results/sbc/data/{wildcards.model}/batch~{wildcards.batch}.tsv"
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
    """Result tables of a cell, one per configured method (with wildcards)."""
    return [
        f"results/fits/{{model}}/{m}/trials~{{trials}}/{{cell}}.tsv"
        for m in fit_methods()
    ]


def sbc_fit_outputs():
    """Result tables of an SBC batch, one per configured method (with wildcards)."""
    return [
        f"results/sbc/fits/{{model}}/{m}/batch~{{batch}}.tsv" for m in fit_methods()
    ]


def draws_outputs():
    """Posterior draws of a cell, one file per PyMC method (with wildcards).

    One sampling job per cell draws them all: the models are compiled once per
    process anyway, and a cell's datasets are read and checked once.
    """
    return [
        f"results/draws/{{model}}/{m}/trials~{{trials}}/{{cell}}.npz"
        for m in pymc_methods()
    ]


def sbc_draws_outputs():
    """Posterior draws of an SBC batch, one file per PyMC method (with wildcards)."""
    return [
        f"results/sbc/draws/{{model}}/{m}/batch~{{batch}}.npz" for m in pymc_methods()
    ]


def bayes_fit_outputs():
    """Result tables of a cell's PyMC methods (with wildcards)."""
    return [
        f"results/fits/{{model}}/{m}/trials~{{trials}}/{{cell}}.tsv"
        for m in pymc_methods()
    ]


def sbc_bayes_fit_outputs():
    """Result tables of an SBC batch's PyMC methods (with wildcards)."""
    return [
        f"results/sbc/fits/{{model}}/{m}/batch~{{batch}}.tsv" for m in pymc_methods()
    ]


def all_fit_files(wildcards):
    """Fit tables of every configured model, method and cell."""
    return fit_files()


def all_sbc_fit_files(wildcards):
    """Fit tables of every configured model, method and SBC batch."""
    return sbc_fit_files()


def model_exact_files(wildcards):
    """Exact-check tables of the job's model."""
    return exact_files(wildcards.model)


def cell_truth(wildcards):
    """The true parameter values of a job's cell, as floats, in the model's order.

    Raises
    ------
    ValueError
        If the cell's parameters are not the model's (a path made by hand).
    """
    parts = [part.split("~") for part in wildcards.cell.split("/")]
    names = tuple(p for p, _ in parts)
    model = model_of(wildcards.model)
    if names != model.param_names:
        raise ValueError(
            f"cell {wildcards.cell} names {list(names)}, model {model.name} has "
            f"{list(model.param_names)}"
        )
    return {p: float(v) for p, v in parts}


def design_targets(model):
    """The design targets of a model's tables job: ``min_correlation`` and its RMSE targets."""
    return {
        "min_correlation": config["design"]["min_correlation"],
        "rmse_target": model_entry(model)["design"]["rmse_target"],
    }


def plot_caption(name):
    """The caption file of a figure (one for every ``recovery_<param>``)."""
    base = "recovery" if name.startswith("recovery_") else name
    return f"../report/plots/{base}.rst"


def summary_inputs(wildcards):
    """The tables the headline table of the report reads, of every model."""
    names = ["recovery_metrics", "coverage", "design", "exact_check"]
    if sbc_on():
        names.append("sbc")
    return {f"{m}__{n}": table_path(m, n) for m in model_names() for n in names}


def report_inputs(wildcards):
    """Every table (``table_<model>__<name>``) and figure (``plot_<model>__<name>``) shown."""
    inputs = {"recovery": "results/recovery.tsv", "summary": SUMMARY_TABLE}
    if sbc_on():
        inputs["sbc_recovery"] = "results/sbc/recovery.tsv"
    for m in model_names():
        tables = {**model_tables(m), "exact_check": table_path(m, "exact_check")}
        plots = {**model_plots(m), "exact_check": plot_path(m, "exact_check")}
        if sbc_on():
            tables.update({n: table_path(m, n) for n in SBC_TABLES})
            plots.update({n: plot_path(m, n) for n in SBC_FIGURES})
        inputs.update({f"table_{m}__{n}": p for n, p in tables.items()})
        inputs.update({f"plot_{m}__{n}": p for n, p in plots.items()})
    return inputs


def _by_model(input, prefix):
    out = {}
    for key, path in input.items():
        if key.startswith(prefix):
            model, _, name = key.removeprefix(prefix).partition("__")
            out.setdefault(model, {})[name] = path
    return out


def report_tables(wildcards, input):
    """The report's tables: ``{model: {name: path}}`` and the study-wide ones."""
    shared = {
        k: input[k]
        for k in ("recovery", "summary", "sbc_recovery")
        if k in input.keys()
    }
    return {"models": _by_model(input, "table_"), **shared}


def report_images(wildcards, input):
    """The report's figures: ``{model: {name: path}}``."""
    return _by_model(input, "plot_")


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
    cores the jobs need (``rlrecover.run.jobs.one_blas_thread``).
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
    by a server that has imported matplotlib (``rlrecover.run.jobs.draw_figures``).
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
    with nutpie. The compile (about 10 s of one core per model with empty caches) then
    runs on one core while this process runs the simulations and maximum-likelihood
    fits on the other, instead of holding both sampling slots waiting
    (``rlrecover.run.jobs.warm_up_models``); the sampling jobs load the compiled
    models from the caches. Until a model's PyMC models are ready, its sampling jobs
    rank ``WARMUP_PRIORITY_DROP`` lower in Snakemake's scheduler, so other ready jobs
    (those of models already compiled among them) go first (a priority orders ready
    jobs, it never holds one back). The models are compiled in the order of
    ``config.yaml``. Once a warm-up has compiled the models into the current caches,
    later runs start none and change no priority: the sampling jobs load the models
    in under a second.
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
    sampling = [
        job
        for job in workflow.dag.needrun_jobs()
        if job.rule.name in ("fit_bayes", "sbc_fit_bayes")
    ]
    models = [m for m in model_names() if any(j.wildcards.model == m for j in sampling)]
    if not models:
        return
    specs = {
        m: jobs.model_specs(pymc_methods(), config_subset(BAYES_SECTIONS, 2, m))
        for m in models
    }
    priorities = scheduler_priorities()
    ranked = priorities is not None and all(job in priorities for job in sampling)
    waiting = {m: set(specs[m]) for m in models}
    if ranked:
        for job in sampling:
            priorities[job] -= WARMUP_PRIORITY_DROP

    def restore(spec):
        """``spec`` is in the caches: its model's jobs rank as before once all are."""
        for m in models:
            if spec in waiting[m]:
                waiting[m].discard(spec)
                if not waiting[m]:
                    for job in sampling:
                        if job.wildcards.model == m:
                            priorities[job] += WARMUP_PRIORITY_DROP

    kernels = [f"exact:{m}" for m in models if exact_files(m)]
    if sbc_on():
        kernels.append("ecdf_band")
    started = jobs.warm_up_models(
        [spec for m in models for spec in specs[m]],
        on_ready=restore if ranked else None,
        kernels=kernels,
    )
    if ranked and not started:
        for m in models:
            for spec in list(waiting[m]):
                restore(spec)


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
