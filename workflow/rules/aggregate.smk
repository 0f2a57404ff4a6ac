rule aggregate:
    """Stack the fit tables of every configured method and cell."""
    input:
        all_fit_files,
    output:
        "results/recovery.tsv",
    log:
        "results/logs/aggregate.log",
    threads: 1
    resources:
        mem_mb=2000,
    run:
        jobs.aggregate_job(input, output[0], log[0])


rule tables:
    """Recovery metrics, interval coverage, sampler diagnostics and run times."""
    input:
        recovery="results/recovery.tsv",
    output:
        recovery_metrics=report(
            TABLES["recovery_metrics"],
            category="Tables",
            caption="../report/recovery_metrics.rst",
        ),
        coverage=report(
            TABLES["coverage"],
            category="Tables",
            caption="../report/coverage_table.rst",
        ),
        diagnostics=report(
            TABLES["diagnostics"],
            category="Tables",
            caption="../report/diagnostics.rst",
        ),
        runtime=report(
            TABLES["runtime"],
            category="Tables",
            caption="../report/runtime.rst",
        ),
    log:
        "results/logs/tables.log",
    threads: 1
    resources:
        mem_mb=2000,
    params:
        levels=config["coverage_levels"],
    run:
        jobs.tables_job(input.recovery, output, params.levels, log[0])


rule plots:
    """Estimated against true values per parameter, and interval coverage."""
    input:
        recovery="results/recovery.tsv",
        coverage=TABLES["coverage"],
    output:
        recovery_alpha=report(
            PLOTS["recovery_alpha"],
            category="Recovery",
            subcategory="alpha",
            caption="../report/recovery_alpha.rst",
        ),
        recovery_beta=report(
            PLOTS["recovery_beta"],
            category="Recovery",
            subcategory="beta",
            caption="../report/recovery_beta.rst",
        ),
        coverage=report(
            PLOTS["coverage"],
            category="Coverage",
            caption="../report/coverage_plot.rst",
        ),
    log:
        "results/logs/plots.log",
    threads: 1
    resources:
        mem_mb=2000,
    run:
        jobs.plots_job(input.recovery, input.coverage, output, log[0])


rule html_report:
    """Self-contained HTML report for the scientist (results/report.html)."""
    input:
        recovery="results/recovery.tsv",
        metrics=TABLES["recovery_metrics"],
        coverage=TABLES["coverage"],
        diagnostics=TABLES["diagnostics"],
        runtime=TABLES["runtime"],
        recovery_alpha=PLOTS["recovery_alpha"],
        recovery_beta=PLOTS["recovery_beta"],
        coverage_plot=PLOTS["coverage"],
    output:
        "results/report.html",
    log:
        "results/logs/report.log",
    threads: 1
    resources:
        mem_mb=2000,
    params:
        config=config,
        tables=report_tables,
        images=report_images,
    run:
        jobs.report_job(output[0], params.tables, params.images, params.config, log[0])
