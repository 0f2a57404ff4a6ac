"""Helpers shared by the rules: config checks, grid cells, paths, input functions.

This file defines no rules. Everything that reads ``config`` is a function, so it
sees the validated config with its defaults filled in.
"""

import math
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from rlrecover.seeds import format_value
from rlrecover.summary import METHODS

# Canonical grid values as written by rlrecover.seeds.format_value ("{:.12g}"):
# "5", "0.5", "2.5", "1e-05", "1e+20". Grid values are never negative.
NUMBER_REGEX = r"[0-9]+(\.[0-9]+)?(e[+-][0-9]+)?"

PARAMS = ("alpha", "beta")

TABLES = {
    "recovery_metrics": "results/tables/recovery_metrics.tsv",
    "coverage": "results/tables/coverage.tsv",
    "diagnostics": "results/tables/diagnostics.tsv",
    "runtime": "results/tables/runtime.tsv",
}

PLOTS = {
    "recovery_alpha": "results/plots/recovery_alpha.png",
    "recovery_beta": "results/plots/recovery_beta.png",
    "coverage": "results/plots/coverage.png",
}

# Config sections each kind of job depends on. A job only receives these (via
# params), so editing an unrelated section, or adding a grid value, does not make
# Snakemake rerun it.
SIMULATE_SECTIONS = ("seed", "task", "replicates")
FIT_SECTIONS = ("seed", "task", "mle", "priors", "sampler", "coverage_levels")


# ---------------------------------------------------------------------------
# Config checks
# ---------------------------------------------------------------------------


def check_yaml_syntax(path):
    """Stop with the position of the error if ``path`` exists but is not valid YAML."""
    if not Path(path).exists():
        return
    try:
        with open(path, encoding="utf-8") as f:
            yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise WorkflowError(f"{path} is not valid YAML:\n{e}") from None


def _config_sources():
    """The config files (and --config) in the order they were applied."""
    cli = [str(f) for f in workflow.overwrite_configfiles]
    files = [str(f) for f in workflow.configfiles if str(f) not in cli] + cli
    if workflow.config_settings.overwrite_config:
        files.append("--config")
    return ", then ".join(dict.fromkeys(files)) or "the config"


def _error_location(error):
    return " -> ".join(str(p) for p in error.absolute_path) or "(top level)"


def _hint(error):
    """YAML reads ``1e-3`` as text; it needs a decimal point: ``1.0e-3``."""
    if error.validator == "type" and isinstance(error.instance, str):
        try:
            float(error.instance)
        except ValueError:
            return ""
        return " (write numbers without quotes; in exponent form with a point, e.g. 1.0e-3)"
    return ""


def config_errors(cfg, schema):
    """Messages ``"grid -> alpha -> 1: 1.5 is greater than the maximum of 1"``."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path))
    )
    return [f"{_error_location(e)}: {e.message}{_hint(e)}" for e in errors]


def grid_errors(cfg):
    """Checks the schema cannot express: finite values, distinct canonical values."""
    messages = []
    grid = cfg.get("grid")
    for param in PARAMS:
        values = grid.get(param) if isinstance(grid, dict) else None
        if not isinstance(values, list):
            continue
        labels = []
        for i, v in enumerate(values):
            if not isinstance(v, int | float) or isinstance(v, bool):
                continue  # reported by the schema
            if math.isfinite(v):
                labels.append(format_value(v))
            else:
                messages.append(f"grid -> {param} -> {i}: {v} is not a finite number")
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            messages.append(
                f"grid -> {param}: {values} repeats values (equal to 12 significant "
                f"digits): {', '.join(dupes)}"
            )
    return messages


def validate_config(cfg, schema_path):
    """Validate ``cfg`` against the schema, listing every problem; then fill defaults.

    Snakemake's own ``validate`` stops at the first problem and prints the schema;
    here every problem is listed as ``key -> key -> index: message``.
    """
    schema_file = Path(workflow.basedir) / schema_path
    with open(schema_file, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    messages = config_errors(cfg, schema) + grid_errors(cfg)
    if messages:
        lines = "\n".join(f"  {m}" for m in messages)
        raise WorkflowError(
            f"Invalid configuration in {_config_sources()} "
            f"({len(messages)} problem(s); allowed values: comments in config.yaml "
            f"and {schema_path}):\n{lines}"
        )
    # Snakemake's validate fills in the defaults of the schema (in place).
    validate(cfg, schema_file.as_posix())


# ---------------------------------------------------------------------------
# Grid cells and the files they produce
# ---------------------------------------------------------------------------


def grid_labels(param):
    """Canonical text of the configured values of ``param``, as used in paths."""
    return [format_value(v) for v in config["grid"][param]]


def cells():
    """Every configured cell as ``(alpha, beta)`` path labels."""
    return [(a, b) for a in grid_labels("alpha") for b in grid_labels("beta")]


def data_files():
    return [f"results/data/alpha~{a}/beta~{b}.tsv" for a, b in cells()]


def fit_files():
    return [p.format(alpha=a, beta=b) for a, b in cells() for p in fit_outputs()]


# ---------------------------------------------------------------------------
# Input and params functions (used instead of lambdas in the rules)
# ---------------------------------------------------------------------------


def config_subset(keys):
    return {k: config[k] for k in keys}


def simulate_config(wildcards):
    """Config sections a simulated dataset depends on."""
    return config_subset(SIMULATE_SECTIONS)


def fit_config(wildcards):
    """Config sections a fit depends on."""
    return config_subset(FIT_SECTIONS)


def fit_methods():
    """Configured methods in canonical order: one job fits them all for one cell.

    Starting Python and importing PyMC costs ~5 s, more than a cell's maximum
    likelihood fits, so one process per cell imports once, compiles each PyMC model
    once and fits every replicate with every method.
    """
    return [m for m in METHODS if m in config["methods"]]


def fit_outputs():
    return [
        f"results/fits/{m}/alpha~{{alpha}}/beta~{{beta}}.tsv" for m in fit_methods()
    ]


def all_fit_files(wildcards):
    """Fit tables of every configured method and cell."""
    return fit_files()


# ---------------------------------------------------------------------------
# The fit job
# ---------------------------------------------------------------------------


def fit_job(data_path, outputs, methods, fit_cfg, wildcards, log_path):
    """Fit one cell with every configured method; one table per method.

    Runs inside the Snakemake process when jobs run as threads (the workflow profile
    sets ``force-use-threads``): PyMC is then imported once per run and each model
    compiled once, and nutpie samples outside the GIL, so jobs still run in parallel.
    On a cluster each job is its own process and pays the import and compile itself.
    """
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from rlrecover import fitting
    from rlrecover.config import Settings
    from rlrecover.summary import summary_columns

    threadpool_limits(limits=1)  # one core per job; BLAS work here is tiny anyway
    settings = Settings.from_config(fit_cfg)
    alpha = float(wildcards.alpha)
    beta = float(wildcards.beta)
    columns = summary_columns(settings.coverage_levels)
    with open(log_path, "w", encoding="utf-8") as stream:

        def log(line):
            stream.write(f"{line.rstrip()}\n")
            stream.flush()

        try:
            data = pd.read_csv(data_path, sep="\t")
            for method, path in zip(methods, outputs, strict=True):
                n = data["replicate"].nunique()
                log(f"fitting {n} datasets of alpha={alpha}, beta={beta} with {method}")
                result = fitting.fit_cell(method, data, alpha, beta, settings, log)
                if list(result.columns) != columns:
                    raise ValueError(
                        f"fit_cell returned columns {list(result.columns)}"
                    )
                result.to_csv(path, sep="\t", index=False)
                log(f"wrote {len(result)} rows to {path}")
        except Exception:
            import traceback

            log(traceback.format_exc())
            raise
