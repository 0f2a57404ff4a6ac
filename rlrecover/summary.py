"""The result table: one summary row per fit, the same columns for every method.

This module is the one place that defines the layout of ``results/recovery.tsv``
(and of the per-cell fit tables it stacks) and reads it back with fixed column
types (:func:`read_recovery`). Columns that do not apply to a method (R-hat for
maximum likelihood, say) are left empty (NaN).

The columns of a parameter are named after it (``alpha_true``, ``alpha_est``, ...), so
the layout depends on the parameters: a fit table holds one model's, and
``results/recovery.tsv`` stacks the fits of every model of a study with the union of
their parameters (:func:`union_params`); a row's columns of another model's
parameters are empty. Which parameters a table has is read off its ``{p}_true``
columns (:func:`params_of`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from rlrecover.seeds import format_value

__all__ = [
    "METHODS",
    "cell_label",
    "corr_column",
    "corr_columns",
    "empty_row",
    "interval_columns",
    "level_label",
    "levels_of",
    "params_of",
    "read_recovery",
    "recovery_dtypes",
    "summary_columns",
    "union_columns",
    "union_params",
]

#: Fitting methods, in report order.
METHODS: tuple[str, ...] = ("mle", "pymc_potential", "pymc_bernoulli")


def level_label(level: float) -> str:
    """Column label of a nominal level in percent: 0.9 -> ``"90"``, 0.975 -> ``"97.5"``.

    Parameters
    ----------
    level : float
        Nominal level in (0, 1).

    Returns
    -------
    str
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"coverage level must lie in (0, 1), got {level!r}")
    return f"{round(100 * level, 6):g}"


def interval_columns(param: str, level: float) -> tuple[str, str]:
    """Names of the lower and upper bound columns of ``param`` at ``level``."""
    lab = level_label(level)
    return f"{param}_lower_{lab}", f"{param}_upper_{lab}"


def corr_column(p: str, q: str) -> str:
    """Column of the within-fit correlation of parameters ``p`` and ``q``: ``corr_p_q``."""
    return f"corr_{p}_{q}"


def corr_columns(params: Sequence[str]) -> list[str]:
    """The correlation columns of every pair of ``params``, in order (``p`` before ``q``).

    A correlation is the posterior correlation of the draws, or for maximum likelihood
    the Wald correlation (from the inverse Hessian).
    """
    params = list(params)
    return [corr_column(p, q) for i, p in enumerate(params) for q in params[i + 1 :]]


def summary_columns(
    params: Sequence[str], levels: Sequence[float], corr: Sequence[str] | None = None
) -> list[str]:
    """All columns of a summary row, in order.

    Parameters
    ----------
    params : sequence of str
        Parameter names (one model's, or the union of a study's models').
    levels : sequence of float
        Configured coverage levels.
    corr : sequence of str, optional
        The correlation columns; default :func:`corr_columns` of ``params`` (one
        model's). A table of several models has those of each model
        (:func:`union_columns`).

    Returns
    -------
    list of str
    """
    params = list(params)
    cols = ["model", "method", "cell"]
    cols += [f"{p}_true" for p in params]
    cols += ["replicate", "n_trials"]
    for stat in _PARAM_STATS:
        cols += [f"{p}_{stat}" for p in params]
    cols += corr_columns(params) if corr is None else list(corr)
    for level in levels:
        for p in params:
            cols.extend(interval_columns(p, level))
    return cols + list(_TAIL_TYPES)


def union_params(param_lists: Sequence[Sequence[str]]) -> list[str]:
    """The parameters of several models, each once, in order of first appearance."""
    out: list[str] = []
    for params in param_lists:
        out += [p for p in params if p not in out]
    return out


def union_columns(param_lists: Sequence[Sequence[str]], levels: Sequence[float]) -> list[str]:
    """The columns of a table stacking the fits of several models.

    Every parameter's columns (:func:`union_params`) and every model's own correlation
    columns (``corr_alpha_pos_beta`` of rw2, not a pair the models do not share).
    """
    corr: list[str] = []
    for params in param_lists:
        corr += [c for c in corr_columns(params) if c not in corr]
    return summary_columns(union_params(param_lists), levels, corr)


def params_of(columns: Sequence[str]) -> list[str]:
    """The parameters of a recovery table: its ``{p}_true`` columns before ``replicate``."""
    columns = list(columns)
    end = columns.index("replicate") if "replicate" in columns else len(columns)
    return [c[: -len("_true")] for c in columns[:end] if c.endswith("_true")]


#: Per-parameter statistics, each a float column ``{param}_{stat}``. ``mcse`` is the
#: Monte Carlo standard error of the posterior mean (NaN for maximum likelihood).
_PARAM_STATS = ("est", "median", "sd", "cdf_true", "mcse")

#: The columns after the interval bounds, with their types (see :func:`read_recovery`).
_TAIL_TYPES: dict[str, str] = {
    "nll": "float64",
    "converged": "boolean",
    "at_bound": "boolean",
    "rhat_max": "float64",
    "ess_bulk_min": "float64",
    "ess_tail_min": "float64",
    "divergences": "float64",
    "status": "string",
    "error": "string",
    "seconds": "float64",
}
_INTERVAL_RE = re.compile(r"^(?P<param>\w+)_(lower|upper)_(?P<level>[0-9.]+)$")


def cell_label(truth: Mapping[str, float]) -> str:
    """The label of a grid cell, as in paths and the ``cell`` column: ``alpha~0.5/beta~5``.

    Parameters
    ----------
    truth : mapping of str to float
        True value of each parameter, in the model's order.

    Returns
    -------
    str
    """
    return "/".join(f"{p}~{format_value(v)}" for p, v in truth.items())


def empty_row(
    model: str,
    levels: Sequence[float],
    method: str,
    truth: Mapping[str, float],
    replicate: int,
    n_trials: int,
) -> dict[str, object]:
    """A summary row with identity columns filled and every estimate NaN.

    Parameters
    ----------
    model : str
        The fitted model's name.
    levels : sequence of float
        Configured coverage levels.
    method : str
        One of :data:`METHODS`.
    truth : mapping of str to float
        True value of each parameter of the model (the cell), in its order.
    replicate : int
        Replicate number.
    n_trials : int
        Number of trials in the dataset.

    Returns
    -------
    dict
    """
    row: dict[str, object] = dict.fromkeys(summary_columns(list(truth), levels), np.nan)
    row.update(
        model=model,
        method=method,
        cell=cell_label(truth),
        **{f"{p}_true": float(v) for p, v in truth.items()},
        replicate=int(replicate),
        n_trials=int(n_trials),
        status="ok",
        error="",
    )
    return row


def levels_of(columns: Sequence[str]) -> list[float]:
    """The coverage levels whose interval columns a table has, in column order.

    Parameters
    ----------
    columns : sequence of str
        Column names of a recovery table.

    Returns
    -------
    list of float
        Levels, e.g. ``[0.5, 0.9]`` for ``alpha_lower_50, ..., beta_upper_90``.
    """
    params = set(params_of(columns))
    levels: list[float] = []
    for col in columns:
        m = _INTERVAL_RE.match(col)
        if m and m["param"] in params:
            level = float(m["level"]) / 100
            if level not in levels:
                levels.append(level)
    return levels


def recovery_dtypes(
    params: Sequence[str], levels: Sequence[float], corr: Sequence[str] | None = None
) -> dict[str, str]:
    """Column types of a recovery table of ``params`` with intervals at ``levels``.

    Parameters
    ----------
    params : sequence of str
        Parameter names.
    levels : sequence of float
        Coverage levels.

    Returns
    -------
    dict of str to str
        pandas dtype of each column of :func:`summary_columns`.
    """
    types = dict.fromkeys(summary_columns(params, levels, corr), "float64")
    types.update(
        model="string", method="string", cell="string", replicate="int64", n_trials="int64"
    )
    types.update(_TAIL_TYPES)
    return types


def read_recovery(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a recovery table (``results/recovery.tsv`` or a fit table) with fixed types.

    Text columns are pandas strings (``error`` is ``""`` when empty), ``converged``
    and ``at_bound`` nullable booleans, ``replicate`` and ``n_trials`` integers and
    every other column float64, whatever the file's values look like.

    Parameters
    ----------
    path : path-like
        A TSV file with the columns of :func:`summary_columns` for some parameters
        and levels.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValueError
        If the columns are not those of a recovery table, naming the file.
    """
    header = pd.read_csv(path, sep="\t", nrows=0).columns.tolist()
    params = params_of(header)
    levels = levels_of(header)
    # one model's pairs, or several models' own pairs (in either order of the union)
    pairs = {corr_column(p, q) for p in params for q in params if p != q}
    corr = [c for c in header if c in pairs]
    expected = summary_columns(params, levels, corr)
    if header != expected:
        missing = [c for c in expected if c not in header]
        extra = [c for c in header if c not in expected]
        raise ValueError(
            f"{path} is not a recovery table: missing columns {missing}, unexpected {extra}"
        )
    types = recovery_dtypes(params, levels, corr)
    text = {c: t for c, t in types.items() if t in ("string", "boolean")}
    frame = pd.read_csv(
        path,
        sep="\t",
        dtype={**types, **dict.fromkeys(text, "string")},
        keep_default_na=False,
        na_values={c: [""] for c in types if c not in text},
    )
    for col, kind in text.items():
        values = frame[col].fillna("")
        if kind == "boolean":
            lower = values.str.strip().str.lower()
            frame[col] = lower.map({"true": True, "false": False, "": pd.NA}).astype("boolean")
        else:
            frame[col] = values
    return frame
