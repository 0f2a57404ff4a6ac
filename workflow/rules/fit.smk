rule fit_mle:
    """Maximum-likelihood fit of every replicate of one cell; one row per replicate."""
    input:
        data="results/data/alpha~{alpha}/beta~{beta}.tsv",
    output:
        "results/fits/mle/alpha~{alpha}/beta~{beta}.tsv",
    log:
        "results/logs/fit/mle/alpha~{alpha}/beta~{beta}.log",
    benchmark:
        "results/benchmarks/fit/mle/alpha~{alpha}/beta~{beta}.tsv"
    conda:
        "../envs/rlrecover.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        config=mle_config,
        methods=["mle"],
    script:
        "../scripts/fit.py"


if pymc_methods():

    rule fit_pymc:
        """Posterior of every replicate of one cell under each configured PyMC model.

        One process per cell: PyMC is imported once and each model compiled once, then
        only the data change between replicates.
        """
        input:
            data="results/data/alpha~{alpha}/beta~{beta}.tsv",
        output:
            pymc_fit_outputs(),
        log:
            "results/logs/fit/pymc/alpha~{alpha}/beta~{beta}.log",
        benchmark:
            "results/benchmarks/fit/pymc/alpha~{alpha}/beta~{beta}.tsv"
        conda:
            "../envs/rlrecover.yaml"
        threads: 1
        resources:
            mem_mb=3000,
        params:
            config=pymc_config,
            methods=pymc_methods(),
        script:
            "../scripts/fit.py"
