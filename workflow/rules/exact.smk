rule exact:
    """The reference posterior of a cell's first datasets, against each PyMC fit of them."""
    input:
        unpack(exact_inputs),
    output:
        "results/exact/{model}/trials~{trials}/{cell}.tsv",
    log:
        "results/logs/exact/{model}/trials~{trials}/{cell}.log",
    benchmark:
        "results/benchmarks/exact/{model}/trials~{trials}/{cell}.tsv"
    group:
        "cells"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
        cpus_per_task=1,
    params:
        config=exact_config,
        replicates=exact_replicates,
        truth=cell_truth,
    run:
        jobs.exact_job(
            input.data,
            exact_draws_paths(input),
            output[0],
            params.config,
            params.replicates,
            params.truth,
            log[0],
        )


rule sbc_exact:
    """The reference posterior of a model's first SBC datasets, against each PyMC fit."""
    input:
        unpack(exact_inputs),
    output:
        "results/exact/{model}/sbc/batch~{batch}.tsv",
    log:
        "results/logs/exact/{model}/sbc/batch~{batch}.log",
    benchmark:
        "results/benchmarks/exact/{model}/sbc/batch~{batch}.tsv"
    priority: SBC_PRIORITY
    group:
        "cells"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
        cpus_per_task=1,
    params:
        config=exact_config,
        replicates=exact_replicates,
        truth=None,
    run:
        jobs.exact_job(
            input.data,
            exact_draws_paths(input),
            output[0],
            params.config,
            params.replicates,
            params.truth,
            log[0],
        )
