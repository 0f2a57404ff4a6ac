rule fit:
    """Fit every replicate of one cell with every configured method.

    One job per cell; each PyMC model is compiled once for all replicates (once per
    Snakemake run when jobs run as threads, see profiles/default), and only
    the data change between replicates. One table per method.
    """
    input:
        data="results/data/alpha~{alpha}/beta~{beta}.tsv",
    output:
        fit_outputs(),
    log:
        "results/logs/fit/alpha~{alpha}/beta~{beta}.log",
    benchmark:
        "results/benchmarks/fit/alpha~{alpha}/beta~{beta}.tsv"
    conda:
        "../envs/rlrecover.yaml"
    threads: 1
    resources:
        mem_mb=3000,
    params:
        config=fit_config,
        methods=fit_methods(),
    run:
        fit_job(input.data, output, params.methods, params.config, wildcards, log[0])
