"""A single self-contained HTML report of a recovery study.

:func:`render_report` is a pure function from the study's tables, config and figure
files to an HTML string; :func:`write_report` writes that string to a file. The page
has inline CSS, figures embedded as base64 ``data:`` URIs and no external resource,
so it can be mailed or archived on its own.

The markup, CSS and explanatory text live in the Jinja2 template
``rlrecover/templates/report.html.j2`` (with ``report.css``). This module only
prepares what the template shows: every table cell is formatted to text here, and
Jinja2's autoescaping HTML-escapes all of it.
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import yaml

from rlrecover.analysis import (
    ALL_CELLS,
    COVERAGE_COLUMNS,
    ESS_MIN,
    RHAT_MAX,
    is_missing,
    method_order,
)

__all__ = ["SECTIONS", "render_report", "write_report"]

#: Section ids and headings, in page order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("config", "Configuration"),
    ("recovery", "Parameter recovery"),
    ("metrics", "Recovery metrics"),
    ("coverage", "Interval coverage"),
    ("diagnostics", "Fits to look at"),
    ("runtime", "Run time"),
)

_TEMPLATE = "report.html.j2"
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
_MAX_TEXT = 400
# A text column with a cell longer than this gets a minimum width, so that a long
# message wraps into a readable block instead of a narrow strip.
_WIDE_TEXT = 60
# Headers of columns that several tables share.
_TRUE_HEADERS = {"alpha_true": "true alpha", "beta_true": "true beta"}

# Built at import, so a package installed without its templates fails at once.
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("rlrecover", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

# A table as the template's ``table`` macro reads it (see :func:`_table`).
Table = dict[str, list[Any]]


# --------------------------------------------------------------------------- formatting


def _fmt(x: object) -> str:
    """Text of one table cell: 4 significant digits for floats, '–' for missing."""
    if is_missing(x):
        return "–"
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        v = float(x)
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        if 1e4 <= abs(v) < 1e9:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    text = str(x)
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 1] + "…"
    return text


def _is_num(x: object) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(
        x, bool | np.bool_
    )


def _numeric_column(col: pd.Series) -> bool:
    """Whether a column holds numbers: every value present is one (or, with no value
    present, the dtype is numeric). Such columns are right-aligned."""
    present = [x for x in col if not is_missing(x)]
    if present:
        return all(_is_num(x) for x in present)
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _table(df: pd.DataFrame, headers: Mapping[str, str] | None = None) -> Table:
    """``df`` (index dropped) as display text, for the template's ``table`` macro.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows and columns to show.
    headers : mapping of str to str, optional
        Header text by column name; other columns are headed by their name.

    Returns
    -------
    dict
        ``{"columns": [{"label", "num", "wide"}, ...], "rows": [[text, ...], ...]}``.
        Cells are formatted by :func:`_fmt`. ``num`` marks a column of numbers
        (right-aligned), ``wide`` a text column with a cell longer than
        ``_WIDE_TEXT`` characters (given a minimum width so it wraps into a block).
    """
    headers = dict(headers or {})
    text = df.map(_fmt)
    columns = [
        {
            "label": str(headers.get(c, c)),
            "num": _numeric_column(df[c]),
            "wide": any(len(t) > _WIDE_TEXT for t in text[c]),
        }
        for c in df.columns
    ]
    return {"columns": columns, "rows": text.to_numpy(dtype=object).tolist()}


def _plain(x: Any) -> Any:
    """Config as plain YAML-able Python values."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple | set | frozenset):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if x is None or isinstance(x, bool | int | float | str):
        return x
    return str(x)


def _config_yaml(config: Mapping[str, Any]) -> str:
    # Flow style for innermost lists and mappings only: ``alpha: [0.1, 0.5]``, as in
    # config.yaml, rather than one line per value.
    return yaml.safe_dump(
        _plain(config), sort_keys=False, default_flow_style=None, allow_unicode=True, width=88
    )


def _figure(key: str, path: str | os.PathLike[str]) -> dict[str, str]:
    """A figure file as a ``data:`` URI and its caption."""
    path = Path(path)
    mime = _MIME.get(path.suffix.lower(), "image/png")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return {"src": f"data:{mime};base64,{data}", "caption": key.replace("_", " ")}


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``df`` with methods in report order (stable otherwise)."""
    if df.empty or "method" not in df:
        return df
    rank = {m: i for i, m in enumerate(method_order(df["method"]))}
    key = df["method"].astype(str).map(rank)
    return df.iloc[np.argsort(key.to_numpy(), kind="stable")]


def _values(s: pd.Series) -> list[float]:
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return sorted({float(x) for x in v[np.isfinite(v)]})


def _list(values: Sequence[object]) -> str:
    return ", ".join(_fmt(v) for v in values) if values else "–"


# --------------------------------------------------------------------------- sections


def _summary(config: Mapping[str, Any], recovery: pd.DataFrame) -> dict[str, Any]:
    methods = method_order(recovery["method"]) if "method" in recovery else []
    alphas = _values(recovery["alpha_true"]) if "alpha_true" in recovery else []
    betas = _values(recovery["beta_true"]) if "beta_true" in recovery else []
    n_cells = recovery["cell"].nunique() if "cell" in recovery else 0
    trials = _values(recovery["n_trials"]) if "n_trials" in recovery else []
    if {"method", "cell", "replicate"} <= set(recovery.columns) and len(recovery):
        reps = recovery.groupby(["method", "cell"])["replicate"].nunique()
        rep_text = (
            _fmt(int(reps.min()))
            if reps.min() == reps.max()
            else (f"{int(reps.min())}–{int(reps.max())}")
        )
    else:
        rep_text = "–"
    status = recovery.get("status", pd.Series("ok", index=recovery.index)).astype(str)
    ok = status.str.strip().str.lower() == "ok"
    n_total = len(recovery)
    n_ok = int(ok.sum())
    seed = config.get("seed") if isinstance(config, Mapping) else None

    facts = [
        ("Methods", _list(methods)),
        ("True alpha values", _list(alphas)),
        ("True beta values", _list(betas)),
        ("Grid cells", _fmt(int(n_cells))),
        ("Datasets (replicates) per cell and method", rep_text),
        ("Trials per dataset", _list(trials)),
        ("Seed", _fmt(seed) if seed is not None else "–"),
        ("Fits", f"{n_total} in total: {n_ok} succeeded, {n_total - n_ok} failed"),
    ]
    per_method = []
    for m in methods:
        sel = recovery["method"].astype(str) == m
        per_method.append(
            {
                "method": m,
                "fits": int(sel.sum()),
                "ok": int((sel & ok).sum()),
                "failed": int((sel & ~ok).sum()),
            }
        )
    table = pd.DataFrame(per_method, columns=["method", "fits", "ok", "failed"])
    return {"facts": facts, "per_method": _table(table)}


def _metrics(metrics: pd.DataFrame) -> dict[str, Table]:
    pooled = _ordered(metrics[metrics["cell"].astype(str) == ALL_CELLS])
    cells = _ordered(metrics[metrics["cell"].astype(str) != ALL_CELLS])
    head = {
        **_TRUE_HEADERS,
        "n": "n (ok fits)",
        "bias": "bias",
        "rmse": "RMSE",
        "pearson_r": "Pearson r",
        "spearman_r": "Spearman r",
    }
    pooled_cols = ["method", "parameter", "n", "bias", "rmse", "pearson_r", "spearman_r"]
    cell_cols = ["method", "parameter", "cell", "alpha_true", "beta_true", "n", "bias", "rmse"]
    return {"pooled": _table(pooled[pooled_cols], head), "cells": _table(cells[cell_cols], head)}


def _coverage(coverage: pd.DataFrame, figures: list[dict[str, str]]) -> dict[str, Any]:
    pooled = _ordered(coverage[coverage["cell"].astype(str) == ALL_CELLS]).copy()
    lev = pd.to_numeric(pooled["level"], errors="coerce")
    inside = (pooled["ci_low"] <= lev) & (lev <= pooled["ci_high"])
    pooled["nominal_in_band"] = [
        None if is_missing(lo) else bool(v) for lo, v in zip(pooled["ci_low"], inside, strict=True)
    ]
    head = {
        "level": "nominal level",
        "n": "n (ok fits)",
        "covered": "covered",
        "coverage": "coverage",
        "ci_low": "Wilson 95% low",
        "ci_high": "Wilson 95% high",
        "nominal_in_band": "nominal inside band",
    }
    # Pooled rows have no cell and no true values: every other coverage column.
    pooled_columns = [c for c in COVERAGE_COLUMNS if c not in ("cell", "alpha_true", "beta_true")]
    out: dict[str, Any] = {
        "figures": figures,
        "pooled": _table(pooled[[*pooled_columns, "nominal_in_band"]], head),
        "cells": None,
    }
    cells = coverage[coverage["cell"].astype(str) != ALL_CELLS]
    if len(cells):
        c = cells.copy()
        c["text"] = [
            "–" if int(n) == 0 else f"{_fmt(cov)} ({int(k)}/{int(n)})"
            for cov, k, n in zip(c["coverage"], c["covered"], c["n"], strict=True)
        ]
        wide = c.pivot_table(
            index=["method", "parameter", "cell", "alpha_true", "beta_true"],
            columns="level",
            values="text",
            aggfunc="first",
            sort=False,
        )
        wide.columns = [f"level {_fmt(float(x))}" for x in wide.columns]
        out["cells"] = _table(_ordered(wide.reset_index()), _TRUE_HEADERS)
    return out


def _diagnostics(diag: pd.DataFrame | None, rhat_max: float, ess_min: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rhat_max": f"{rhat_max:g}",
        "ess_min": f"{ess_min:g}",
        "counts": None,
        "flagged": None,
    }
    if diag is None or diag.empty:
        return out
    diag = _ordered(diag)
    counts = diag.groupby("method", sort=False).size().rename("flagged fits").reset_index()
    cols = [
        c
        for c in [
            "method",
            "cell",
            "replicate",
            "reason",
            "rhat_max",
            "ess_bulk_min",
            "ess_tail_min",
            "divergences",
            "converged",
            "at_bound",
        ]
        if c in diag.columns and not diag[c].isna().all()
    ]
    head = {
        "rhat_max": "max R-hat",
        "ess_bulk_min": "min bulk ESS",
        "ess_tail_min": "min tail ESS",
        "divergences": "divergences",
        "at_bound": "at bound",
    }
    out.update(counts=_table(counts), flagged=_table(diag[cols], head))
    return out


def _runtime(runtime: pd.DataFrame) -> Table:
    head = {
        "n_fits": "fits",
        "n_ok": "ok",
        "n_failed": "failed",
        "total_seconds": "total (s)",
        "mean_seconds": "mean (s)",
        "median_seconds": "median (s)",
        "max_seconds": "max (s)",
    }
    return _table(_ordered(runtime), head)


# --------------------------------------------------------------------------- public


def render_report(
    *,
    config: Mapping[str, Any],
    recovery: pd.DataFrame,
    metrics: pd.DataFrame,
    coverage: pd.DataFrame,
    diagnostics: pd.DataFrame,
    runtime: pd.DataFrame,
    images: Mapping[str, str | os.PathLike[str]],
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
    title: str = "Q-learning parameter recovery report",
) -> str:
    """The report as an HTML string (pure; reads only the image files).

    Parameters
    ----------
    config : mapping
        The workflow config, shown as YAML.
    recovery : pandas.DataFrame
        The recovery table (one row per method and dataset).
    metrics : pandas.DataFrame
        Output of :func:`rlrecover.analysis.recovery_metrics`.
    coverage : pandas.DataFrame
        Output of :func:`rlrecover.analysis.coverage_table`.
    diagnostics : pandas.DataFrame
        Output of :func:`rlrecover.analysis.diagnostics` (may be empty).
    runtime : pandas.DataFrame
        Output of :func:`rlrecover.analysis.runtime_table`.
    images : mapping of str to path-like
        Figure files by caption, in display order. Keys containing ``"coverage"``
        go to the coverage section, all others to the recovery section.
    rhat_max, ess_min : float
        Thresholds used for ``diagnostics``; only stated in the text.
    title : str
        Page title.

    Returns
    -------
    str
        A complete HTML document.

    Raises
    ------
    FileNotFoundError
        If an image file does not exist.
    """
    rec_figs: list[dict[str, str]] = []
    cov_figs: list[dict[str, str]] = []
    for key, path in images.items():
        (cov_figs if "coverage" in str(key).lower() else rec_figs).append(_figure(str(key), path))

    return _ENV.get_template(_TEMPLATE).render(
        title=title,
        sections=SECTIONS,
        summary=_summary(config, recovery),
        config_yaml=_config_yaml(config),
        recovery_figures=rec_figs,
        metrics=_metrics(metrics),
        coverage=_coverage(coverage, cov_figs),
        diagnostics=_diagnostics(diagnostics, rhat_max, ess_min),
        runtime=_runtime(runtime),
    )


def write_report(
    path: str | os.PathLike[str],
    *,
    config: Mapping[str, Any],
    recovery: pd.DataFrame,
    metrics: pd.DataFrame,
    coverage: pd.DataFrame,
    diagnostics: pd.DataFrame,
    runtime: pd.DataFrame,
    images: Mapping[str, str | os.PathLike[str]],
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
) -> Path:
    """Write the self-contained HTML report to ``path``.

    Parameters
    ----------
    path : path-like
        Output ``.html`` file (parent directories are created).
    config, recovery, metrics, coverage, diagnostics, runtime, images, rhat_max, ess_min
        As in :func:`render_report`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    text = render_report(
        config=config,
        recovery=recovery,
        metrics=metrics,
        coverage=coverage,
        diagnostics=diagnostics,
        runtime=runtime,
        images=images,
        rhat_max=rhat_max,
        ess_min=ess_min,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
