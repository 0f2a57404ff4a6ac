rule simulate:
    """Simulate every replicate of one cell (a model's truth) at one number of trials."""
    output:
        "results/data/{model}/trials~{trials}/{cell}.tsv",
    log:
        "results/logs/simulate/{model}/trials~{trials}/{cell}.log",
    benchmark:
        "results/benchmarks/simulate/{model}/trials~{trials}/{cell}.tsv"
    priority: SIMULATE_PRIORITY
    group:
        "cells"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
        cpus_per_task=1,
    params:
        config=simulate_config,
        truth=cell_truth,
    run:
        jobs.simulate_job(output[0], params.config, params.truth, log[0])


rule sbc_simulate:
    """Simulate one batch of a model's SBC datasets: truths drawn from its priors."""
    output:
        "results/sbc/data/{model}/batch~{batch}.tsv",
    log:
        "results/logs/sbc_simulate/{model}/batch~{batch}.log",
    benchmark:
        "results/benchmarks/sbc_simulate/{model}/batch~{batch}.tsv"
    priority: SBC_PRIORITY
    group:
        "cells"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
        cpus_per_task=1,
    params:
        config=sbc_simulate_config,
        indices=sbc_indices,
    run:
        jobs.sbc_simulate_job(output[0], params.config, params.indices, log[0])
