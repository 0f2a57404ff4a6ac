rule fit:
    """Fit every replicate of one cell with one method; one summary row per replicate."""
    input:
        data="results/data/alpha~{alpha}/beta~{beta}.tsv",
    output:
        "results/fits/{method}/alpha~{alpha}/beta~{beta}.tsv",
    log:
        "results/logs/fit/{method}/alpha~{alpha}/beta~{beta}.log",
    benchmark:
        "results/benchmarks/fit/{method}/alpha~{alpha}/beta~{beta}.tsv"
    conda:
        "../envs/rlrecover.yaml"
    threads: 1
    resources:
        mem_mb=fit_mem_mb,
    params:
        config=fit_config,
    script:
        "../scripts/fit.py"
