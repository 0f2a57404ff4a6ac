# Fitting, in three kinds of job per cell (a model's truth) and per SBC batch:
# - fit_mle: maximum likelihood, with its Wald intervals;
# - fit_bayes: posterior draws of every PyMC method, stored exactly in .npz files;
# - summarize: estimates, intervals and diagnostics of those draws.
# Each gets only the config sections its results depend on (see common.smk), so an
# edit reruns only what it changes: sampler settings resample but refit no MLE;
# coverage levels recompute the MLE and the summaries but resample nothing.
#
# Threaded mode, the contract that makes a run fast:
# - every job body is a ``run:`` block calling a function of ``rlrecover.run.jobs`` (a
#   ``script:`` would start a new Python process per job);
# - ``force-use-threads: true`` in ``profiles/default/config.yaml`` (read by Snakemake
#   by itself) runs such jobs as threads of the Snakemake process, so PyMC is imported
#   once per run;
# - ``rlrecover.inference.sampling`` keeps one compiled nutpie model per model specification for the
#   life of the process, built under a lock because PyTensor's compiler is not
#   thread-safe; ``pm.sample`` runs (``sampler.backend: pymc``) hold a second lock;
# - nutpie samples outside Python's lock, so ``--cores N`` runs N sampling jobs of one
#   thread each at once; a job starts each dataset's sampler before awaiting the
#   previous one's, and diagnoses that one while the next samples, so its core keeps
#   sampling while its thread waits for Python's lock
#   (``rlrecover.inference.sampling.sample_posteriors``). (Measured on the shipped study, 2 cores,
#   warm caches, before that overlap and the two points below: 203 s; one job at a
#   time with ``threads: 2``, nutpie then sampling two chains in parallel, 253 s. A
#   job passes its threads to nutpie, so ``--set-threads fit_bayes=2`` does that; the
#   draws are the same either way.)
# - the Snakefile's ``onstart`` hook, on local runs: switches off Snakemake's job rate
#   limit, whose timers otherwise keep the scheduler (the main thread) busy and the
#   jobs waiting for Python's lock (``unthrottle_local_scheduler`` in common.smk);
#   records a thread job's benchmark as its wall time only, instead of reading the
#   whole process's memory map twice a second (``time_thread_jobs_only``); starts
#   the server that forks the figure workers (``start_figure_workers``); and compiles
#   the models in a process of their own while this one runs the simulations and MLE
#   fits, the sampling jobs ranking lower until the first model is in the caches
#   (``start_model_warmup``, ``rlrecover.run.warmup``);
# - Python-bound work that runs after the last fit is kept short: the grid's
#   simulations run first, then the grid's fits (the cells with most trials first,
#   the shortest last) and the SBC's last, so the grid's tables and figures are made
#   while the SBC batches sample; the figures are drawn by worker processes
#   (``rlrecover.run.jobs.draw_figures``), not by threads holding Python's lock;
# - the ``onstart`` hook also gives the process's BLAS pools one thread for the whole
#   run (``rlrecover.run.jobs.one_blas_thread``): OpenBLAS's idle threads spun on the
#   cores after every small BLAS call of a job, 305 against 258-269 core-seconds of
#   the process on the shipped study; where a job is a process of its own,
#   ``rlrecover.run.jobs.single_thread_blas`` limits them while a sampling job runs;
# - Ctrl-C stops the running fits within a second (``rlrecover.run.interrupt``) and every
#   finished dataset is checkpointed, so the plain rerun samples only what is missing.
# Without the profile (``--workflow-profile none``, or on a cluster) every job is its
# own process: same results, but each pays the imports and compilation.


rule fit_mle:
    """Fit every replicate of one cell by maximum likelihood."""
    input:
        data="results/data/{model}/trials~{trials}/{cell}.tsv",
    output:
        "results/fits/{model}/mle/trials~{trials}/{cell}.tsv",
    log:
        "results/logs/fit_mle/{model}/trials~{trials}/{cell}.log",
    benchmark:
        "results/benchmarks/fit_mle/{model}/trials~{trials}/{cell}.tsv"
    group:
        "cells"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
        cpus_per_task=1,
    params:
        config=mle_config,
        unit=cell_unit,
    run:
        jobs.fit_mle_job(input.data, output[0], params.config, params.unit, log[0])


rule sbc_fit_mle:
    """Fit one batch of SBC datasets by maximum likelihood."""
    input:
        data="results/sbc/data/{model}/batch~{batch}.tsv",
    output:
        "results/sbc/fits/{model}/mle/batch~{batch}.tsv",
    log:
        "results/logs/sbc_fit_mle/{model}/batch~{batch}.log",
    benchmark:
        "results/benchmarks/sbc_fit_mle/{model}/batch~{batch}.tsv"
    priority: SBC_PRIORITY
    group:
        "cells"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
        cpus_per_task=1,
    params:
        config=sbc_mle_config,
        unit=sbc_unit,
    run:
        jobs.fit_mle_job(input.data, output[0], params.config, params.unit, log[0])


if pymc_methods():

    rule fit_bayes:
        """Sample the posterior of every replicate of one cell with each PyMC method."""
        input:
            data="results/data/{model}/trials~{trials}/{cell}.tsv",
        output:
            draws_outputs(),
        log:
            "results/logs/fit_bayes/{model}/trials~{trials}/{cell}.log",
        benchmark:
            "results/benchmarks/fit_bayes/{model}/trials~{trials}/{cell}.tsv"
        group:
            "cells"
        threads: 1
        resources:
            # On Slurm the job asks for ``threads`` CPUs (cpus-per-task).
            mem_mb=3000,
            runtime=60,
        params:
            config=bayes_config,
            methods=pymc_methods(),
            unit=cell_unit,
            checkpoints=checkpoint_dir,
        run:
            jobs.fit_bayes_job(
                input.data,
                output,
                params.methods,
                params.config,
                params.unit,
                params.checkpoints,
                threads,
                log[0],
            )

    rule sbc_fit_bayes:
        """Sample the posterior of one batch of SBC datasets with each PyMC method."""
        input:
            data="results/sbc/data/{model}/batch~{batch}.tsv",
        output:
            sbc_draws_outputs(),
        log:
            "results/logs/sbc_fit_bayes/{model}/batch~{batch}.log",
        benchmark:
            "results/benchmarks/sbc_fit_bayes/{model}/batch~{batch}.tsv"
        priority: SBC_PRIORITY
        group:
            "cells"
        threads: 1
        resources:
            # On Slurm the job asks for ``threads`` CPUs (cpus-per-task).
            mem_mb=3000,
            runtime=60,
        params:
            config=sbc_bayes_config,
            methods=pymc_methods(),
            unit=sbc_unit,
            checkpoints=sbc_checkpoint_dir,
        run:
            jobs.fit_bayes_job(
                input.data,
                output,
                params.methods,
                params.config,
                params.unit,
                params.checkpoints,
                threads,
                log[0],
            )

    rule summarize:
        """Estimates, intervals and diagnostics of one cell's posterior draws."""
        input:
            draws_outputs(),
        output:
            bayes_fit_outputs(),
        log:
            "results/logs/summarize/{model}/trials~{trials}/{cell}.log",
        group:
            "cells"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
            cpus_per_task=1,
        params:
            config=summary_config,
            methods=pymc_methods(),
            unit=cell_unit,
        run:
            jobs.summarize_job(
                input, output, params.methods, params.config, params.unit, log[0]
            )

    rule sbc_summarize:
        """Estimates, intervals and diagnostics of one SBC batch's posterior draws."""
        input:
            sbc_draws_outputs(),
        output:
            sbc_bayes_fit_outputs(),
        log:
            "results/logs/sbc_summarize/{model}/batch~{batch}.log",
        priority: SBC_PRIORITY
        group:
            "cells"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
            cpus_per_task=1,
        params:
            config=sbc_summary_config,
            methods=pymc_methods(),
            unit=sbc_unit,
        run:
            jobs.summarize_job(
                input, output, params.methods, params.config, params.unit, log[0]
            )
