"""A single self-contained HTML report of a recovery study of one or more models.

:func:`render_report` is a pure function from the study's tables, config and figure
files to an HTML string; :func:`write_report` writes that string to a file. The page
has inline CSS, figures embedded as base64 ``data:`` URIs and no external resource,
so it can be mailed or archived on its own.

Its first screen answers the headline questions for every model and parameter (the
summary table, :func:`rlrecover.analysis.headline.headline_table`), each row linking
to its model's details; each model's details are folded (``<details>``), so that six
models do not make a page six times as long, and opened by its link.

The markup, CSS and explanatory text live in the Jinja2 template
``rlrecover/templates/report.html.j2`` (with ``report.css``). This module only
prepares what the template shows: every table cell is formatted to text here, and
Jinja2's autoescaping HTML-escapes all of it.
"""

from __future__ import annotations

import base64
import math
import os
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import yaml

from rlrecover.analysis.common import (
    ALL_CELLS,
    ESS_MIN,
    RHAT_MAX,
    estimate_mask,
    is_missing,
    method_order,
)
from rlrecover.models.base import Model

__all__ = ["MODEL_SECTIONS", "STUDY_SECTIONS", "package_versions", "render_report", "write_report"]

#: The questions each model's part of the report answers, in page order (section ids
#: are prefixed with the model's name).
MODEL_SECTIONS: tuple[tuple[str, str], ...] = (
    ("facts", "The study"),
    ("sampler", "Did the sampler work?"),
    ("calibration", "Are the intervals honest?"),
    ("recovery", "Where does recovery work?"),
    ("tradeoff", "Do the parameters trade off?"),
    ("trials", "How many trials do I need?"),
    ("diagnostics", "Fits to look at"),
)
#: The study-wide sections after the models.
STUDY_SECTIONS: tuple[tuple[str, str], ...] = (
    ("config", "Configuration and versions"),
    ("runtime", "Run time"),
)

#: Packages whose versions the report states.
VERSIONED = ("rlrecover", "pymc", "pytensor", "nutpie", "arviz", "numpy", "scipy", "snakemake")

#: |z| above which an MCMC mean is listed as disagreeing with the exact posterior.
Z_LIMIT = 4.0

_TEMPLATE = "report.html.j2"
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
_MAX_TEXT = 400
# A text column with a cell longer than this gets a minimum width, so that a long
# message wraps into a readable block instead of a narrow strip.
_WIDE_TEXT = 60


def _true_headers(model: Model) -> dict[str, str]:
    """Headers of the truth columns that several tables share: ``true alpha``."""
    return {f"{p}_true": f"true {p}" for p in model.param_names}


# Built at import, so a package installed without its templates fails at once.
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("rlrecover.report", "templates"),
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


def _facts(model: Model, entry: Mapping[str, Any], recovery: pd.DataFrame) -> dict[str, Any]:
    """What was simulated and fitted for one model, and how many fits succeeded."""
    from rlrecover.truths import design_kind

    methods = method_order(recovery["method"]) if len(recovery) else []
    n_cells = recovery["cell"].nunique() if len(recovery) else 0
    trials = _values(recovery["n_trials"]) if len(recovery) else []
    if len(recovery):
        reps = recovery.groupby(["method", "cell", "n_trials"])["replicate"].nunique()
        lo, hi = int(reps.min()), int(reps.max())
        rep_text = str(lo) if lo == hi else f"{lo}–{hi}"
    else:
        rep_text = "–"
    ok = _ok(recovery)
    no_se = pd.Series(estimate_mask(recovery), index=recovery.index) & ~ok
    n_total, n_ok, n_no_se = len(recovery), int(ok.sum()), int(no_se.sum())
    kind = design_kind(entry) if entry else "grid"
    facts = [
        ("Model", f"{model.title}: {model.equations}"),
        ("Parameters", ", ".join(f"{p.name} ({p.description})" for p in model.params)),
        ("Methods", _list(methods)),
    ]
    if kind == "grid":
        for p in model.param_names:
            facts.append((f"True {p} values", _list(_values(recovery[f"{p}_true"]))))
        facts.append(("Grid cells", _fmt(int(n_cells))))
    else:
        how = (
            f"{n_cells} Sobol points in the ranges "
            + ", ".join(f"{p} {v}" for p, v in entry["truths"]["ranges"].items())
            + " (log-uniform for positive parameters)"
            if kind == "sobol"
            else f"{n_cells} draws from the priors"
        )
        facts.append(("True values", how))
    if entry and "priors" in entry:
        priors = model.priors_from_config(entry["priors"])
        facts.append(("Priors (Bayesian methods)", str(priors)))
    facts += [
        ("Trials per dataset", _list(trials)),
        ("Datasets per truth, number of trials and method", rep_text),
        ("Fits", f"{n_total} in total: {n_ok} succeeded, {n_total - n_ok} failed"),
    ]
    if n_no_se:
        facts[-1] = (
            "Fits",
            f"{n_total} in total: {n_ok} succeeded, {n_no_se} with unusable standard "
            f"errors (estimate kept, interval left out), {n_total - n_ok - n_no_se} failed",
        )
    per_method = []
    for m in methods:
        sel = recovery["method"].astype(str) == m
        per_method.append(
            {"method": m, "fits": int(sel.sum()), "ok": int((sel & ok).sum())}
            | {"unusable SE": int((sel & no_se).sum())}
            | {"failed": int((sel & ~ok & ~no_se).sum())}
        )
    columns = ["method", "fits", "ok", "unusable SE", "failed"]
    if not n_no_se:
        columns.remove("unusable SE")
    return {"facts": facts, "per_method": _table(pd.DataFrame(per_method, columns=columns))}


def _ok(df: pd.DataFrame) -> pd.Series:
    status = df.get("status", pd.Series("ok", index=df.index)).astype(str)
    return status.str.strip().str.lower() == "ok"


def _reference_text(model: Model) -> str:
    """How the reference posterior of a model is computed, in words."""
    k = model.n_params
    if k <= 3:
        return (
            f"The model has {k} parameter{'s' if k > 1 else ''}, so its posterior can be "
            f"computed without sampling, by quadrature on a {k}-D grid of the free scale "
            "(refined until halving the spacing changes no mean, sd or CDF by more than "
            "1e-3)."
        )
    return (
        f"With {k} parameters a quadrature grid is too large; the reference is importance "
        "sampling from the posterior mode (a multivariate Student-t proposal from the "
        "curvature there, Pareto-smoothed weights). Its own check is the Pareto k of the "
        "weights: at most 0.7 and the reference is reliable, and its Monte Carlo error "
        "enters z; above, the dataset is left out of the check and counted."
    )


def _sampler(model: Model, exact: pd.DataFrame | None, recovery: pd.DataFrame) -> dict[str, Any]:
    """The reference-posterior check: counts, the disagreeing fits, divergences."""
    out: dict[str, Any] = {
        "n": 0,
        "outliers": None,
        "by_method": None,
        "limit": f"{Z_LIMIT:g}",
        "reference": _reference_text(model),
        "unreliable": 0,
        "notes": [],
    }
    bayes = recovery[recovery["method"].astype(str) != "mle"] if len(recovery) else recovery
    if len(bayes) and "divergences" in bayes:
        div = pd.to_numeric(bayes["divergences"], errors="coerce")
        out["divergent"] = int((div > 0).sum())
        out["bayes_fits"] = int(div.notna().sum())
    else:
        out["divergent"] = out["bayes_fits"] = 0
    if exact is None or exact.empty:
        return out
    reliable = _flags(exact.get("reference_reliable", pd.Series(True, index=exact.index)))
    out["unreliable"] = int((~reliable).sum())
    out["notes"] = sorted({str(x) for x in exact.get("reference_note", []) if not is_missing(x)})[
        :3
    ]
    exact = exact[reliable]
    z = pd.to_numeric(exact["z"], errors="coerce")
    finite = np.isfinite(z)
    out["n"] = int(finite.sum())
    out["n_over_2"] = int((np.abs(z) > 2).sum())
    out["n_over_limit"] = int((np.abs(z) > Z_LIMIT).sum())
    out["expected_over_2"] = f"{0.0455 * out['n']:.1f}"
    out["z_sd"] = _fmt(float(np.std(z[finite], ddof=1))) if out["n"] > 1 else "–"
    groups = []
    for (method, param), g in exact.groupby(["method", "parameter"], sort=False):
        gz = pd.to_numeric(g["z"], errors="coerce")
        gz = gz[np.isfinite(gz)]
        cdf = pd.to_numeric(g["cdf_diff"], errors="coerce").abs()
        groups.append(
            {
                "method": method,
                "parameter": param,
                "fits checked": len(gz),
                "mean z": float(gz.mean()) if len(gz) else math.nan,
                "sd of z": float(gz.std(ddof=1)) if len(gz) > 1 else math.nan,
                f"|z| > {Z_LIMIT:g}": int((gz.abs() > Z_LIMIT).sum()),
                "largest |CDF diff|": float(cdf.max()) if len(cdf) else math.nan,
            }
        )
    if groups:
        out["by_method"] = _table(_ordered(pd.DataFrame(groups)))
    bad = exact[np.abs(z) > Z_LIMIT]
    if len(bad):
        cols = ["method", "cell", "n_trials", "replicate", "parameter", "exact_mean"]
        cols += ["mcmc_mean", "mcmc_mcse", "z", "cdf_diff", "divergences"]
        out["outliers"] = _table(_ordered(bad[[c for c in cols if c in bad]]))
    return out


def _flags(values) -> pd.Series:
    """A column of booleans that may have come back from a TSV as text."""
    series = pd.Series(values)
    return series.astype(str).str.strip().str.lower().isin(["true", "1", "1.0", "yes"])


def _calibration(tables: Mapping[str, pd.DataFrame], model: Model) -> dict[str, Any]:
    out: dict[str, Any] = {"sbc": None, "sbc_verdicts": []}
    sbc = tables.get("sbc")
    if sbc is not None and not sbc.empty:
        sbc = _ordered(sbc)
        cols = ["method", "parameter", "n", "n_excluded", "p_value", "max_ecdf_deviation"]
        cols += ["inside_band", "coverage_50", "coverage_80", "coverage_90", "coverage_95"]
        cols += ["mc_error_max", "mc_error_vs_band"]
        head = {
            "n_excluded": "left out",
            "p_value": "p (uniformity)",
            "max_ecdf_deviation": "largest ECDF deviation",
            "inside_band": "inside 95% band",
            "mc_error_max": "largest MC error of a CDF",
            "mc_error_vs_band": "MC error / band half-width",
        }
        out["sbc"] = _table(sbc[[c for c in cols if c in sbc]], head)
        out["sbc_test"] = str(sbc["test"].iloc[0]) if "test" in sbc else "uniformity test"
        for d in sbc.to_dict("records"):
            inside = str(d.get("inside_band", "")).lower()
            out["sbc_verdicts"].append(
                f"{d['method']} {d['parameter']} "
                + ("inside the band" if inside in ("yes", "true") else "OUTSIDE the band")
                + f" (p = {_fmt(d.get('p_value'))})"
            )
    coverage = tables.get("coverage")
    if coverage is not None:
        pooled = _ordered(coverage[coverage["cell"].astype(str) == ALL_CELLS]).copy()
        head = {
            "level": "nominal level",
            "n": "n (intervals used)",
            "ci_low": "Wilson 95% low",
            "ci_high": "Wilson 95% high",
            "n_fits": "fits",
            "n_excluded": "left out",
            "excluded": "left out because",
        }
        drop = {"cell", *(f"{p}_true" for p in model.param_names)}
        out["grid_pooled"] = _table(pooled[[c for c in pooled.columns if c not in drop]], head)
    return out


def _metrics(metrics: pd.DataFrame, model: Model) -> dict[str, Table]:
    cell = metrics["cell"].astype(str)
    pooled = _ordered(metrics[cell == ALL_CELLS])
    cells = _ordered(metrics[cell != ALL_CELLS])
    head = {
        **_true_headers(model),
        "n": "n (ok fits)",
        "rmse": "RMSE",
        "pearson_r": "Pearson r",
        "spearman_r": "Spearman r",
        "log_bias": "log bias",
        "log_rmse": "log RMSE",
        "ratio": "geometric mean ratio",
        "n_trials": "trials",
    }
    keep = ["method", "parameter", "n_trials", "n", "bias", "rmse"]
    if model.log_params:
        keep += ["log_bias", "ratio", "log_rmse"]
    keep += ["pearson_r", "spearman_r"]
    cell_keep = ["method", "parameter", "n_trials", "cell", "n", "bias", "rmse"]
    if model.log_params:
        cell_keep += ["ratio", "log_rmse"]
    return {
        "pooled": _table(pooled[[c for c in keep if c in pooled]], head),
        "cells": _table(cells[[c for c in cell_keep if c in cells]], head),
    }


def _diagnostics(
    diag: pd.DataFrame | None, model: Model, rhat_max: float, ess_min: float
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rhat_max": f"{rhat_max:g}",
        "ess_min": f"{ess_min:g}",
        "counts": None,
        "flagged": None,
        "se_limits": ", ".join(
            f"{p.mle_box[1] - p.mle_box[0]:.3g} for {p.transform.name}({p.name})"
            for p in model.params
        ),
    }
    if diag is None or diag.empty:
        return out
    diag = _ordered(diag)
    counts = diag.groupby("method", sort=False).size().rename("flagged fits").reset_index()
    if "status" in diag.columns:
        # fits that are not ok, per status: failed, or for maximum likelihood
        # unusable_se / nonfinite (rlrecover.inference.mle.usability)
        status = diag["status"].astype(str).str.strip().str.lower()
        for st in sorted(set(status) - {"ok"}):
            per = (status == st).groupby(diag["method"], sort=False).sum()
            counts[f"status {st}"] = counts["method"].map(per).fillna(0).astype(int).to_numpy()
    cols = [
        c
        for c in [
            "method",
            "cell",
            "n_trials",
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
        "at_bound": "at bound",
        "n_trials": "trials",
    }
    out.update(counts=_table(counts), flagged=_table(diag[cols], head))
    return out


def _runtime(runtimes: Mapping[str, pd.DataFrame]) -> Table | None:
    head = {
        "n_fits": "fits",
        "n_ok": "ok",
        "n_unusable": "unusable SE",
        "n_failed": "failed",
        "total_seconds": "total (s)",
        "mean_seconds": "mean (s)",
        "median_seconds": "median (s)",
        "max_seconds": "max (s)",
    }
    frames = [_ordered(t).assign(model=m) for m, t in runtimes.items() if t is not None]
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    table = table[["model", *[c for c in table.columns if c != "model"]]]
    return _table(table, head)


def _maybe_table(df: pd.DataFrame | None, model: Model, headers: Mapping[str, str] | None = None):
    if df is None or df.empty:
        return None
    return _table(_ordered(df), {**_true_headers(model), "n_trials": "trials", **(headers or {})})


def _known_figures(model: Model) -> set[str]:
    """The figures the template places in its sections (any other goes under recovery)."""
    from rlrecover.report.layout import MAP_FIGURES, MATRIX_FIGURES, SBC_FIGURES

    names = {f"recovery_{p}" for p in model.param_names}
    names |= {"coverage", "coverage_curve", "design", "exact_check"}
    return names | set(MAP_FIGURES) | set(MATRIX_FIGURES) | set(SBC_FIGURES)


def _headline(summary: pd.DataFrame | None) -> dict[str, Any] | None:
    """The first screen: one row per model, parameter and method, linked to the model.

    The summary table's columns are joined into cells a reader takes in at a glance:
    RMSE with its scale, the SBC verdict with its p-value, the reference check as
    "disagreeing of checked", the fewest trials of both criteria.
    """
    if summary is None or summary.empty:
        return None

    def get(row, col):
        value = row.get(col)
        return None if is_missing(value) or value == "" else value

    def sbc(row):
        inside = get(row, "sbc_inside_band")
        if inside is None:
            return "–"
        verdict = "yes" if str(inside).lower() in ("yes", "true") else "NO"
        return f"{verdict} (p {_fmt(get(row, 'sbc_p_value'))})"

    def reference(row):
        checked = get(row, "exact_checked")
        if checked is None:
            return "–"
        text = f"{_fmt(get(row, 'exact_outliers') or 0)} of {_fmt(checked)}"
        if str(get(row, "exact_reliable") or "").lower() == "no":
            text += " (some unreliable)"
        return text

    def rmse(row):
        value = get(row, "rmse")
        scale = get(row, "error_scale")
        return "–" if value is None else _fmt(value) + (" (log)" if scale == "log" else "")

    columns = [
        ("parameter", False, lambda r: _fmt(r["parameter"])),
        ("method", False, lambda r: _fmt(r["method"])),
        ("trials", True, lambda r: _fmt(get(r, "n_trials"))),
        ("corr(truth, estimate)", True, lambda r: _fmt(get(r, "pearson_r"))),
        ("RMSE", True, rmse),
        ("90% coverage", True, lambda r: _fmt(get(r, "coverage90"))),
        ("SBC: inside 95% band", False, sbc),
        ("|z| > 4 vs reference", False, reference),
        ("fewest trials: corr", True, lambda r: _fmt(get(r, "min_trials_for_corr"))),
        ("fewest trials: RMSE target", True, lambda r: _fmt(get(r, "min_trials_for_target"))),
    ]
    records = summary.to_dict("records")
    rows = []
    for i, record in enumerate(records):
        model = str(record["model"])
        first = i == 0 or str(records[i - 1]["model"]) != model
        rows.append({"model": model, "first": first, "cells": [f(record) for _, _, f in columns]})
    return {
        "columns": [{"label": label, "num": num, "wide": False} for label, num, _ in columns],
        "rows": rows,
    }


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages the results depend on.

    Returns
    -------
    dict of str to str
        ``{"python": "3.11.7", "pymc": "5.28.1", ...}``; "not installed" where a
        package is missing.
    """
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# --------------------------------------------------------------------------- public


def render_report(
    *,
    config: Mapping[str, Any],
    models: Mapping[str, Mapping[str, Any]],
    summary: pd.DataFrame | None = None,
    versions: Mapping[str, str] | None = None,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
    title: str = "Parameter recovery report",
) -> str:
    """The report as an HTML string (pure; reads only the image files).

    Parameters
    ----------
    config : mapping
        The workflow config, shown as YAML; its ``models`` entries describe the truths.
    models : mapping of str to mapping
        Per model of the study, in report order: ``{"tables": {name: DataFrame},
        "images": {name: path}}``. ``tables`` holds ``recovery`` (the model's rows of
        the recovery table, required) and, where available, the model's tables of the
        workflow (``recovery_metrics``, ``coverage``, ``diagnostics``, ``runtime``,
        ``tradeoff``, ``correlations``, ``error_dependence``, ``design``,
        ``design_cells``, ``exact_check``, ``sbc``, ``sbc_coverage_curve``); ``images``
        its figures (:func:`rlrecover.report.layout.figure_names`, ``exact_check`` and
        the SBC figures). A missing one leaves its part of the page out with a note.
    summary : pandas.DataFrame, optional
        The headline table (:func:`rlrecover.analysis.headline.headline_table` of
        every model), shown first.
    versions : mapping of str to str, optional
        Software versions to state (default: :func:`package_versions`).
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
    from rlrecover import models as library

    versions = dict(versions) if versions is not None else package_versions()
    entries = config.get("models", {}) if isinstance(config, Mapping) else {}
    parts = []
    for name, given in models.items():
        model = library.get(name)
        tables = given.get("tables", {})
        recovery = tables["recovery"]
        metrics = tables.get("recovery_metrics")
        parts.append(
            {
                "name": name,
                "model": model,
                "anchor": f"model-{name}",
                "fig": {str(k): _figure(str(k), p) for k, p in given.get("images", {}).items()},
                "facts": _facts(model, entries.get(name, {}), recovery),
                "sampler": _sampler(model, tables.get("exact_check"), recovery),
                "calibration": _calibration(tables, model),
                "metrics": _metrics(metrics, model) if metrics is not None else None,
                "tradeoff": _maybe_table(tables.get("tradeoff"), model),
                "correlations": _maybe_table(tables.get("correlations"), model),
                "design": _maybe_table(tables.get("design"), model),
                "design_cells": _maybe_table(tables.get("design_cells"), model),
                "diagnostics": _diagnostics(tables.get("diagnostics"), model, rhat_max, ess_min),
                "maps": "map_rmse" in given.get("images", {}),
                "matrices": model.n_params >= 2 and "map_rmse" not in given.get("images", {}),
                "other_figures": [
                    str(k) for k in given.get("images", {}) if str(k) not in _known_figures(model)
                ],
            }
        )
    runtimes = {p["name"]: models[p["name"]]["tables"].get("runtime") for p in parts}
    return _ENV.get_template(_TEMPLATE).render(
        title=title,
        model_sections=MODEL_SECTIONS,
        study_sections=STUDY_SECTIONS,
        parts=parts,
        headline=_headline(summary),
        runtime=_runtime(runtimes),
        config_yaml=_config_yaml(config),
        versions=_table(pd.DataFrame(list(versions.items()), columns=["software", "version"])),
    )


def write_report(path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write the self-contained HTML report to ``path``.

    Parameters
    ----------
    path : path-like
        Output ``.html`` file (parent directories are created).
    **kwargs
        As in :func:`render_report`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    text = render_report(**kwargs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
