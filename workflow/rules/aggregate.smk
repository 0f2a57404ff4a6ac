rule aggregate:
    """Stack the fit tables of every configured model, method and cell."""
    input:
        all_fit_files,
    output:
        "results/recovery.tsv",
    log:
        "results/logs/aggregate.log",
    group:
        "summary"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    run:
        jobs.aggregate_job(input, output[0], log[0])


rule sbc_aggregate:
    """Stack the fit tables of every configured model, method and SBC batch."""
    input:
        all_sbc_fit_files,
    output:
        "results/sbc/recovery.tsv",
    log:
        "results/logs/sbc_aggregate.log",
    priority: SBC_PRIORITY
    group:
        "summary"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    run:
        jobs.aggregate_job(input, output[0], log[0])


rule exact_table:
    """Every reference-posterior check of a model's PyMC fits, and the distribution of z."""
    input:
        model_exact_files,
    output:
        table=report(
            "results/tables/{model}/exact_check.tsv",
            category="{model}",
            subcategory="Sampler check",
            caption="../report/tables/exact_check.rst",
        ),
        plot=report(
            "results/plots/{model}/exact_check.png",
            category="{model}",
            subcategory="Sampler check",
            caption="../report/plots/exact_check.rst",
        ),
    log:
        "results/logs/exact_table/{model}.log",
    group:
        "summary"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    params:
        model="{model}",
    run:
        jobs.exact_table_job(input, output.table, output.plot, params.model, log[0])


# A model's tables and figures depend on its number of parameters and on how its truths
# are given (rlrecover.report.layout), so each model has its own tables and plots rule.
for model_name in model_names():

    rule:
        name:
            f"tables_{model_name}"
        input:
            recovery="results/recovery.tsv",
        output:
            **{
                name: report(
                    path,
                    category=model_name,
                    subcategory="Tables",
                    caption=f"../report/tables/{name}.rst",
                )
                for name, path in model_tables(model_name).items()
            },
        log:
            f"results/logs/tables/{model_name}.log",
        group:
            "summary"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
            cpus_per_task=1,
        params:
            model=model_name,
            design_kind=model_design(model_name),
            levels=config["coverage_levels"],
            design=design_targets(model_name),
        run:
            jobs.tables_job(
                input.recovery,
                output,
                params.model,
                params.design_kind,
                params.levels,
                params.design,
                log[0],
            )

    rule:
        name:
            f"plots_{model_name}"
        input:
            **model_tables(model_name),
            recovery="results/recovery.tsv",
        output:
            **{
                name: report(
                    path,
                    category=model_name,
                    subcategory="Figures",
                    caption=plot_caption(name),
                )
                for name, path in model_plots(model_name).items()
            },
        log:
            f"results/logs/plots/{model_name}.log",
        group:
            "summary"
        # In a threaded run the figures are drawn by worker processes, one per thread:
        # matplotlib holds Python's lock, which the sampling jobs (threads of the same
        # process) need between datasets, and this job runs while the SBC batches sample.
        threads: 1
        resources:
            mem_mb=3000,
            runtime=10,
        params:
            model=model_name,
            design_kind=model_design(model_name),
        run:
            jobs.plots_job(
                input,
                output,
                params.model,
                params.design_kind,
                log[0],
                threads,
                not threaded_local_run(),
            )


rule sbc_tables:
    """Calibration of a model's intervals under SBC: uniformity of the CDF at the truth."""
    input:
        recovery="results/sbc/recovery.tsv",
    output:
        **{
            name: report(
                f"results/tables/{{model}}/{name}.tsv",
                category="{model}",
                subcategory="Calibration (SBC)",
                caption=f"../report/tables/{name}.rst",
            )
            for name in SBC_TABLES
        },
    log:
        "results/logs/sbc_tables/{model}.log",
    priority: SBC_PRIORITY
    group:
        "summary"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    params:
        model="{model}",
    run:
        jobs.sbc_tables_job(input.recovery, output, params.model, log[0])


rule sbc_plots:
    """A model's SBC rank histogram, ECDF difference with its band, coverage curve."""
    input:
        recovery="results/sbc/recovery.tsv",
        coverage_curve="results/tables/{model}/sbc_coverage_curve.tsv",
    output:
        **{
            name: report(
                f"results/plots/{{model}}/{name}.png",
                category="{model}",
                subcategory="Calibration (SBC)",
                caption=f"../report/plots/{name}.rst",
            )
            for name in SBC_FIGURES
        },
    log:
        "results/logs/sbc_plots/{model}.log",
    priority: SBC_PRIORITY
    group:
        "summary"
    # The last job before the report: its three figures are drawn side by side.
    threads: 2
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        model="{model}",
    run:
        jobs.sbc_plots_job(input, output, params.model, log[0], threads)


rule summary_table:
    """The report's first screen: every model's and parameter's headline answers."""
    input:
        unpack(summary_inputs),
    output:
        report(
            SUMMARY_TABLE,
            category="Summary",
            caption="../report/tables/summary.rst",
        ),
    log:
        "results/logs/summary_table.log",
    group:
        "summary"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
    run:
        jobs.summary_table_job(input, output[0], log[0])


rule html_report:
    """Self-contained HTML report for the scientist (results/report.html)."""
    input:
        unpack(report_inputs),
    output:
        "results/report.html",
    log:
        "results/logs/report.log",
    group:
        "summary"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    params:
        config=config,
        tables=report_tables,
        images=report_images,
    run:
        jobs.report_job(output[0], params.tables, params.images, params.config, log[0])
