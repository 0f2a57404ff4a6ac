"""A single self-contained HTML report of a recovery study.

:func:`render_report` is a pure function from the study's tables, config and figure
files to an HTML string; :func:`write_report` writes that string to a file. The page
has inline CSS, figures embedded as base64 ``data:`` URIs and no external resource,
so it can be mailed or archived on its own. All text taken from the inputs is
HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
_MAX_TEXT = 400

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1em; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 0.8em; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.88em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.55em; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { max-width: 38em; overflow-wrap: anywhere; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
.guide { background: #eef5fb; border-left: 4px solid #5b9bd5; padding: 0.6em 1em; }
.note { color: #555; font-size: 0.92em; }
details summary { cursor: pointer; margin: 0.4em 0; }
"""


# --------------------------------------------------------------------------- formatting


def _esc(x: object) -> str:
    return html.escape(str(x), quote=True)


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


def _table(df: pd.DataFrame, headers: Mapping[str, str] | None = None) -> str:
    """An escaped HTML table of ``df`` (index dropped)."""
    headers = dict(headers or {})
    cols = list(df.columns)
    head = "".join(f"<th>{_esc(headers.get(c, c))}</th>" for c in cols)
    body = []
    for row in df.itertuples(index=False, name=None):
        cells = []
        for v in row:
            cls = "num" if _is_num(v) else "text"
            cells.append(f'<td class="{cls}">{_esc(_fmt(v))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<table>\n<thead><tr>"
        + head
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def _p(text: str, cls: str | None = None) -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{_esc(text)}</p>"


def _details(summary: str, content: str) -> str:
    return f"<details>\n<summary>{_esc(summary)}</summary>\n{content}\n</details>"


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
    return yaml.safe_dump(
        _plain(config), sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def _image(key: str, path: str | os.PathLike[str]) -> str:
    path = Path(path)
    mime = _MIME.get(path.suffix.lower(), "image/png")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = key.replace("_", " ")
    return (
        f'<figure>\n<img src="data:{mime};base64,{data}" alt="{_esc(caption)}">\n'
        f"<figcaption>{_esc(caption)}</figcaption>\n</figure>"
    )


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


def _section(sid: str, body: str) -> str:
    heading = dict(SECTIONS)[sid]
    return f'<section id="{sid}">\n<h2>{_esc(heading)}</h2>\n{body}\n</section>'


def _summary_section(config: Mapping[str, Any], recovery: pd.DataFrame) -> str:
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

    items = [
        ("Methods", _list(methods)),
        ("True alpha values", _list(alphas)),
        ("True beta values", _list(betas)),
        ("Grid cells", _fmt(int(n_cells))),
        ("Datasets (replicates) per cell and method", rep_text),
        ("Trials per dataset", _list(trials)),
        ("Seed", _fmt(seed) if seed is not None else "–"),
        ("Fits", f"{n_total} in total: {n_ok} succeeded, {n_total - n_ok} failed"),
    ]
    dl = "\n".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in items)

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
    table = _table(pd.DataFrame(per_method, columns=["method", "fits", "ok", "failed"]))

    intro = (
        "This is a parameter recovery study of a Q-learning model of a two-armed bandit "
        "with learning rate alpha (in [0, 1]) and inverse temperature beta (> 0). "
        "Choice data were simulated from every combination of the true values below, "
        "several datasets per combination, and each dataset was fitted by each method. "
        "Comparing the estimates with the known true values shows how well, and how "
        "honestly, each method recovers the parameters."
    )
    guide = (
        "Good recovery means the estimates sit close to the "
        "true values: in the recovery plots the points hug the dashed identity line, "
        "bias is near 0, RMSE is small relative to the range of true values, and the "
        "correlation between true and estimated values is close to 1. Honest "
        "uncertainty means that an X% interval contains the true value in about X% of "
        "datasets: in the coverage plot the lines follow the diagonal, and the nominal "
        "level lies inside the shaded binomial (Wilson) band, which shows how much the "
        "empirical coverage can vary by chance with this many datasets. Coverage well "
        "below nominal means overconfident intervals; well above means overly wide "
        "ones. Fits listed under 'Fits to look at' (sampler warnings, estimates at a "
        "bound, failures) deserve inspection before trusting the numbers."
    )
    return (
        _p(intro)
        + f"\n<dl>\n{dl}\n</dl>\n"
        + table
        + f'\n<div class="guide">\n<h3>How to read this report</h3>\n<p>{_esc(guide)}</p>\n</div>'
    )


def _config_section(config: Mapping[str, Any]) -> str:
    return _p("The workflow configuration used for this run:") + (
        f"\n<pre>{_esc(_config_yaml(config))}</pre>"
    )


def _recovery_section(figs: list[str]) -> str:
    guide = (
        "Each point is one dataset: its true value on the horizontal axis (replicates "
        "of a cell are spread slightly sideways so they do not hide each other) and "
        "its estimate (maximum likelihood, or posterior mean for PyMC) on the vertical "
        "axis. Black diamonds are the mean estimate per cell. Points on the dashed "
        "identity line are recovered perfectly; a cloud that is systematically above "
        "or below the line is biased, a wide cloud is noisy. Beta is on log-log axes, "
        "where equal distances mean equal ratios."
    )
    body = _p(guide)
    if figs:
        body += "\n" + "\n".join(figs)
    else:
        body += "\n" + _p("No recovery figures were supplied.", "note")
    return body


def _metrics_section(metrics: pd.DataFrame) -> str:
    pooled = _ordered(metrics[metrics["cell"].astype(str) == ALL_CELLS])
    cells = _ordered(metrics[metrics["cell"].astype(str) != ALL_CELLS])
    head = {
        "n": "n (ok fits)",
        "bias": "bias",
        "rmse": "RMSE",
        "pearson_r": "Pearson r",
        "spearman_r": "Spearman r",
    }
    body = _p(
        "Bias is the mean of estimate − truth, RMSE the root mean squared error; both "
        "are in the units of the parameter. Correlations compare true and estimated "
        "values across all cells (within one cell the truth is constant, so no "
        "correlation is given). Failed fits are excluded."
    )
    body += "\n<h3>All cells pooled</h3>\n" + _table(
        pooled[["method", "parameter", "n", "bias", "rmse", "pearson_r", "spearman_r"]], head
    )
    cols = ["method", "parameter", "cell", "alpha_true", "beta_true", "n", "bias", "rmse"]
    body += "\n<h3>Per cell</h3>\n" + _details(
        f"Show {len(cells)} rows", _table(cells[cols], head)
    )
    return body


def _coverage_section(coverage: pd.DataFrame, figs: list[str]) -> str:
    body = _p(
        "Share of datasets whose central interval (credible interval for PyMC, "
        "confidence interval for maximum likelihood, where available) contains the "
        "true value, at each nominal level. The 95% Wilson interval gives the range "
        "of coverage compatible with chance; if the nominal level lies outside it, "
        "the intervals are miscalibrated."
    )
    if figs:
        body += "\n" + "\n".join(figs)
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
    body += "\n<h3>All cells pooled</h3>\n" + _table(
        pooled[[*pooled_columns, "nominal_in_band"]], head
    )
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
        wide = _ordered(wide.reset_index())
        body += "\n<h3>Per cell</h3>\n" + _p(
            "Coverage (covered/n) per cell and nominal level.", "note"
        )
        body += _details(f"Show {len(wide)} rows", _table(wide))
    return body


def _diagnostics_section(diag: pd.DataFrame, rhat_max: float, ess_min: float) -> str:
    criteria = (
        f"A fit is listed when it failed, when R-hat > {rhat_max:g}, when the bulk "
        f"effective sample size < {ess_min:g}, when the sampler reported divergent "
        "transitions (PyMC), or when the maximum-likelihood optimiser did not "
        "converge or stopped at a parameter bound (MLE)."
    )
    if diag is None or diag.empty:
        return _p(criteria) + "\n" + _p("No fits were flagged.")
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
    }
    return (
        _p(criteria)
        + "\n"
        + _p(f"{len(diag)} fit(s) were flagged.")
        + "\n"
        + _table(counts)
        + "\n"
        + _details(f"Show all {len(diag)} flagged fits", _table(diag[cols], head))
    )


def _runtime_section(runtime: pd.DataFrame) -> str:
    head = {
        "n_fits": "fits",
        "n_ok": "ok",
        "n_failed": "failed",
        "total_seconds": "total (s)",
        "mean_seconds": "mean (s)",
        "median_seconds": "median (s)",
        "max_seconds": "max (s)",
    }
    return (
        _p("Wall-clock time of each fit, including failed ones, as recorded by the fit jobs.")
        + "\n"
        + _table(_ordered(runtime), head)
    )


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
    rec_figs: list[str] = []
    cov_figs: list[str] = []
    for key, path in images.items():
        (cov_figs if "coverage" in str(key).lower() else rec_figs).append(_image(str(key), path))

    sections = {
        "summary": _summary_section(config, recovery),
        "config": _config_section(config),
        "recovery": _recovery_section(rec_figs),
        "metrics": _metrics_section(metrics),
        "coverage": _coverage_section(coverage, cov_figs),
        "diagnostics": _diagnostics_section(diagnostics, rhat_max, ess_min),
        "runtime": _runtime_section(runtime),
    }
    nav = "".join(f'<li><a href="#{sid}">{_esc(h)}</a></li>' for sid, h in SECTIONS)
    body = "\n\n".join(_section(sid, sections[sid]) for sid, _ in SECTIONS)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_esc(title)}</h1>\n<nav><ul>{nav}</ul></nav>\n\n{body}\n</body>\n</html>\n"
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
