rule aggregate:
    """Stack the fit tables of every configured method and cell."""
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
    """Stack the fit tables of every configured method and SBC batch."""
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
    """Every exact-posterior check of a PyMC fit, and the distribution of their z."""
    input:
        all_exact_files,
    output:
        table=report(
            EXACT_TABLE,
            category="Sampler check",
            caption="../report/tables/exact_check.rst",
        ),
        plot=report(
            EXACT_PLOT,
            category="Sampler check",
            caption="../report/plots/exact_check.rst",
        ),
    log:
        "results/logs/exact_table.log",
    group:
        "summary"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    run:
        jobs.exact_table_job(input, output.table, output.plot, log[0])


rule tables:
    """Recovery metrics, coverage, diagnostics, run times, maps, trade-offs and design."""
    input:
        recovery="results/recovery.tsv",
    output:
        **{
            name: report(
                path, category="Tables", caption=f"../report/tables/{name}.rst"
            )
            for name, path in TABLES.items()
        },
    log:
        "results/logs/tables.log",
    group:
        "summary"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    params:
        levels=config["coverage_levels"],
        design=design_params,
    run:
        jobs.tables_job(input.recovery, output, params.levels, params.design, log[0])


rule sbc_tables:
    """Calibration of the intervals under SBC: uniformity of the CDF at the truth."""
    input:
        recovery="results/sbc/recovery.tsv",
    output:
        **{
            name: report(
                path,
                category="Calibration (SBC)",
                caption=f"../report/tables/{name}.rst",
            )
            for name, path in SBC_TABLES.items()
        },
    log:
        "results/logs/sbc_tables.log",
    priority: SBC_PRIORITY
    group:
        "summary"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    run:
        jobs.sbc_tables_job(input.recovery, output, log[0])


rule plots:
    """Recovery, coverage, maps of the grid, trade-offs and the design figure."""
    input:
        recovery="results/recovery.tsv",
        coverage=TABLES["coverage"],
        coverage_curve=TABLES["coverage_curve"],
        tradeoff=TABLES["tradeoff"],
        design=TABLES["design"],
    output:
        **{
            name: report(
                path, category="Figures", caption=f"../report/plots/{name}.rst"
            )
            for name, path in PLOTS.items()
        },
    log:
        "results/logs/plots.log",
    group:
        "summary"
    # In a threaded run the figures are drawn by worker processes, one per thread:
    # matplotlib holds Python's lock, which the sampling jobs (threads of the same
    # process) need between datasets, and this job runs while the SBC batches sample.
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    run:
        jobs.plots_job(input, output, log[0], threads, not threaded_local_run())


rule sbc_plots:
    """SBC rank histogram, ECDF difference with its simultaneous band, coverage curve."""
    input:
        recovery="results/sbc/recovery.tsv",
        coverage_curve=SBC_TABLES["sbc_coverage_curve"],
    output:
        **{
            name: report(
                path,
                category="Calibration (SBC)",
                caption=f"../report/plots/{name}.rst",
            )
            for name, path in SBC_PLOTS.items()
        },
    log:
        "results/logs/sbc_plots.log",
    priority: SBC_PRIORITY
    group:
        "summary"
    # The last job before the report: its three figures are drawn side by side.
    threads: 2
    resources:
        mem_mb=2000,
        runtime=10,
    run:
        jobs.sbc_plots_job(input, output, log[0], threads)


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
