rule fit:
    """Fit every replicate of one cell with every configured method.

    One job per cell writes one table per method; each PyMC model is compiled once
    for all replicates, and only the data change between them.

    Threaded mode, the contract that makes a run fast:
    - the job body is a ``run:`` block calling ``rlrecover.jobs.fit_job`` (a
      ``script:`` would start a new Python process per job), as for every rule;
    - ``force-use-threads: true`` in ``profiles/default/config.yaml`` (read by
      Snakemake by itself) runs such jobs as threads of the Snakemake process, so
      PyMC is imported once per run;
    - ``rlrecover.bayes`` keeps one compiled nutpie model per model specification
      for the life of the process, built under a lock because PyTensor's compiler is
      not thread-safe; ``pm.sample`` runs (``sampler.backend: pymc``) hold a second
      lock; nutpie samples outside Python's GIL, so ``--cores N`` runs N fits at once;
    - ``rlrecover.jobs.single_thread_blas`` limits BLAS pools to one thread while any
      fit job runs (``threads: 1``), and restores them when the last one ends.
    Without the profile (``--workflow-profile none``, or on a cluster) every job is
    its own process: same results, but each pays the imports and compilation.
    """
    input:
        data="results/data/trials~{trials}/alpha~{alpha}/beta~{beta}.tsv",
    output:
        fit_outputs(),
    log:
        "results/logs/fit/trials~{trials}/alpha~{alpha}/beta~{beta}.log",
    benchmark:
        "results/benchmarks/fit/trials~{trials}/alpha~{alpha}/beta~{beta}.tsv"
    group:
        "cells"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
        cpus_per_task=1,
    params:
        config=fit_config,
        methods=fit_methods(),
        truth=cell_truth,
    run:
        jobs.fit_job(
            input.data, output, params.methods, params.config, params.truth, log[0]
        )


rule sbc_fit:
    """Fit one batch of SBC datasets with every configured method (as the fit rule)."""
    input:
        data="results/sbc/data/batch~{batch}.tsv",
    output:
        sbc_fit_outputs(),
    log:
        "results/logs/sbc_fit/batch~{batch}.log",
    benchmark:
        "results/benchmarks/sbc_fit/batch~{batch}.tsv"
    group:
        "cells"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
        cpus_per_task=1,
    params:
        config=sbc_fit_config,
        methods=fit_methods(),
        indices=sbc_indices,
    run:
        jobs.sbc_fit_job(
            input.data,
            output,
            params.methods,
            params.config,
            params.indices,
            log[0],
        )
