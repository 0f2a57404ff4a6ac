rule simulate:
    """Simulate every replicate of one grid cell at one number of trials."""
    output:
        "results/data/trials~{trials}/alpha~{alpha}/beta~{beta}.tsv",
    log:
        "results/logs/simulate/trials~{trials}/alpha~{alpha}/beta~{beta}.log",
    benchmark:
        "results/benchmarks/simulate/trials~{trials}/alpha~{alpha}/beta~{beta}.tsv"
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
    """Simulate one batch of SBC datasets: truths drawn from the priors."""
    output:
        "results/sbc/data/batch~{batch}.tsv",
    log:
        "results/logs/sbc_simulate/batch~{batch}.log",
    benchmark:
        "results/benchmarks/sbc_simulate/batch~{batch}.tsv"
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
