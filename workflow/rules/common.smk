"""Paths, grid cells and input/params functions shared by the rules.

Every rule's ``run:`` block is one call of a function of ``rlrecover.jobs``.

This file defines no rules. Everything that reads ``config`` is a function, so it
sees the validated config with its defaults filled in.
"""

import itertools
import posixpath

from rlrecover import jobs
from rlrecover.qlearning import PARAMS
from rlrecover.seeds import format_value
from rlrecover.summary import METHODS

# Canonical grid values as written by rlrecover.seeds.format_value ("{:.12g}"):
# "5", "0.5", "2.5", "1e-05", "1e+20". Grid values are never negative.
NUMBER_REGEX = r"[0-9]+(\.[0-9]+)?(e[+-][0-9]+)?"

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
# Grid cells and the files they produce
# ---------------------------------------------------------------------------


def grid_labels(param):
    """Canonical text of the configured values of ``param``, as used in paths."""
    return [format_value(v) for v in config["grid"][param]]


def cells():
    """Every configured cell as ``{param: path label}``."""
    return [
        dict(zip(PARAMS, values))
        for values in itertools.product(*(grid_labels(p) for p in PARAMS))
    ]


def cell_path():
    """A cell's part of a path, with wildcards: ``alpha~{alpha}/beta~{beta}``."""
    return posixpath.join(*(f"{p}~{{{p}}}" for p in PARAMS))


def fit_files():
    return [path.format(**cell) for cell in cells() for path in fit_outputs()]


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

    Starting Python, importing PyMC and compiling a model cost more than a cell's
    maximum-likelihood fits, so one job per cell pays them once for every replicate
    and every method.
    """
    return [m for m in METHODS if m in config["methods"]]


def fit_outputs():
    return [f"results/fits/{m}/{cell_path()}.tsv" for m in fit_methods()]


def all_fit_files(wildcards):
    """Fit tables of every configured method and cell."""
    return fit_files()


def cell_truth(wildcards):
    """The true parameter values of a job's cell, as floats."""
    return {p: float(wildcards[p]) for p in PARAMS}


def report_tables(wildcards, input):
    """The report's tables by name, from the rule's inputs."""
    return {
        name: input[name]
        for name in ("recovery", "metrics", "coverage", "diagnostics", "runtime")
    }


def report_images(wildcards, input):
    """The report's figures by caption, in display order."""
    return {
        "recovery_alpha": input.recovery_alpha,
        "recovery_beta": input.recovery_beta,
        "coverage": input.coverage_plot,
    }
