rule simulate:
    """Simulate every replicate of one grid cell (alpha, beta)."""
    output:
        "results/data/alpha~{alpha}/beta~{beta}.tsv",
    log:
        "results/logs/simulate/alpha~{alpha}/beta~{beta}.log",
    benchmark:
        "results/benchmarks/simulate/alpha~{alpha}/beta~{beta}.tsv"
    threads: 1
    resources:
        mem_mb=500,
    params:
        config=simulate_config,
        truth=cell_truth,
    run:
        jobs.simulate_job(output[0], params.config, params.truth, log[0])
