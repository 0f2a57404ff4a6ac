"""Synthetic, seeded tables of any model and design for the analysis and figure tests.

:func:`make_recovery` builds a recovery table with the exact columns of
:func:`rlrecover.summary.summary_columns`: estimates are the truth plus correlated
normal noise on the free scale (logit / log), shrinking with the number of trials;
intervals and CDF values at the truth follow from that noise, so a method is calibrated
by construction; within-fit correlations are the noise correlation. A few fits are
maximum-likelihood fits with unusable standard errors, at a bound, failed, or PyMC fits
with divergences, so every figure meets them. :func:`make_sbc` and :func:`make_exact`
build an SBC table and an exact-check table.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from rlrecover.models.base import Model
from rlrecover.summary import corr_column, empty_row, interval_columns, summary_columns

METHODS = ("mle", "pymc_potential", "pymc_bernoulli")
LEVELS = (0.5, 0.8, 0.9, 0.95)
#: Default grid values of a parameter in [0, 1] and of a positive one.
UNIT_VALUES = (0.2, 0.6)
POSITIVE_VALUES = (2.0, 8.0)
#: Ranges of space-filling and prior truths (positive ones spread on the log scale).
UNIT_RANGE = (0.05, 0.95)
POSITIVE_RANGE = (0.5, 20.0)
#: Correlation of the free-scale errors of neighbouring parameters.
NOISE_RHO = -0.5


def truths(
    model: Model,
    kind: str,
    rng: np.random.Generator,
    *,
    grid: Mapping[str, Sequence[float]] | None = None,
    n_points: int = 12,
) -> list[dict[str, float]]:
    """Truths of a design: ``"grid"`` (product of values), ``"sobol"`` or ``"prior"`` draws.

    Space-filling (``"sobol"``) truths are uniform (log-uniform for positive
    parameters) over :data:`UNIT_RANGE` / :data:`POSITIVE_RANGE`; prior draws are
    Beta(2, 2) and a log-normal around 5. Values are rounded to 6 digits.
    """
    if kind == "grid":
        grid = grid or {
            p.name: UNIT_VALUES if p.kind == "unit" else POSITIVE_VALUES for p in model.params
        }
        rows = itertools.product(*(grid[p] for p in model.param_names))
        return [dict(zip(model.param_names, map(float, r), strict=True)) for r in rows]
    out = []
    for _ in range(n_points):
        truth = {}
        for p in model.params:
            if kind == "sobol":
                if p.kind == "unit":
                    v = rng.uniform(*UNIT_RANGE)
                else:
                    v = math.exp(rng.uniform(*np.log(POSITIVE_RANGE)))
            elif p.kind == "unit":
                v = float(np.clip(rng.beta(2.0, 2.0), 0.02, 0.98))
            else:
                v = float(np.clip(math.exp(rng.normal(math.log(5.0), 0.7)), 0.3, 40.0))
            truth[p.name] = float(f"{v:.6g}")
        out.append(truth)
    return out


def _noise_cov(k: int, rho: float) -> np.ndarray:
    """AR(1)-like correlation: ``rho ** |i - j|``."""
    idx = np.arange(k)
    return rho ** np.abs(idx[:, None] - idx[None, :])


def make_recovery(
    model: Model,
    kind: str = "grid",
    *,
    methods: Sequence[str] = METHODS,
    trials: Sequence[int] = (50, 200),
    n_rep: int = 4,
    levels: Sequence[float] = LEVELS,
    seed: int = 0,
    grid: Mapping[str, Sequence[float]] | None = None,
    n_points: int = 12,
    noise: float = 0.35,
    n_unusable: int = 2,
    n_failed: int = 1,
    n_at_bound: int = 1,
    cell: str | None = None,
) -> pd.DataFrame:
    """A seeded recovery table of ``model`` for a design, with known noise.

    Every method fits the same truths, ``n_rep`` datasets per truth and number of
    trials. The free-scale errors are normal with sd ``noise * sqrt(100 / n_trials)``
    and correlation :data:`NOISE_RHO` between neighbouring parameters.

    Of each method's fits at the smallest number of trials, the first ``n_failed`` are
    failed (no estimates); for maximum likelihood the next ``n_unusable`` have status
    ``unusable_se`` (estimate kept, intervals and CDF NaN) and the next ``n_at_bound``
    sit at the upper bound (1e3) of the last positive parameter (or at 1 - 6e-6 of a
    unit one) with ``at_bound`` true. One PyMC fit per method has 2 divergences.
    ``cell`` overrides every cell label (``"sbc"``).
    """
    rng = np.random.default_rng(seed)
    points = truths(model, kind, rng, grid=grid, n_points=n_points)
    k = model.n_params
    chol = np.linalg.cholesky(_noise_cov(k, NOISE_RHO))
    rho = _noise_cov(k, NOISE_RHO)
    rows = []
    for method in methods:
        special = 0
        for n_trials, truth, rep in itertools.product(trials, points, range(n_rep)):
            row = empty_row(model.name, levels, method, truth, rep, n_trials)
            if cell is not None:
                row["cell"] = cell
            first = n_trials == trials[0]
            if first and special < n_failed:
                special += 1
                row.update(status="failed", error="boom: synthetic failure", seconds=0.2)
                rows.append(row)
                continue
            sigma = noise * math.sqrt(100.0 / n_trials)
            u_true = np.array([p.transform.to_free(truth[p.name]) for p in model.params])
            u_true = np.clip(u_true, -12.0, 12.0)
            u_est = u_true + sigma * (chol @ rng.normal(size=k))
            for j, p in enumerate(model.params):
                est = float(p.transform.from_free(u_est[j]))
                row[f"{p.name}_est"] = est
                row[f"{p.name}_median"] = est
                dtheta = est * (1 - est) if p.kind == "unit" else est
                row[f"{p.name}_sd"] = sigma * dtheta
                row[f"{p.name}_cdf_true"] = float(stats.norm.cdf((u_true[j] - u_est[j]) / sigma))
                for level in levels:
                    z = stats.norm.ppf(0.5 + level / 2)
                    lo, hi = interval_columns(p.name, level)
                    row[lo] = float(p.transform.from_free(u_est[j] - z * sigma))
                    row[hi] = float(p.transform.from_free(u_est[j] + z * sigma))
            for i, p in enumerate(model.param_names):
                for j in range(i + 1, k):
                    row[corr_column(p, model.param_names[j])] = float(rho[i, j])
            row["seconds"] = float(rng.uniform(0.5, 2.0))
            if method == "mle":
                row.update(nll=float(0.6 * n_trials), converged=True, at_bound=False)
                if first and special < n_failed + n_unusable:
                    special += 1
                    row["status"] = "unusable_se"
                    row["error"] = "Hessian not positive definite"
                    for p in model.param_names:
                        row[f"{p}_cdf_true"] = math.nan
                        for level in levels:
                            row.update(dict.fromkeys(interval_columns(p, level), math.nan))
                    for c in (corr_column(p, q) for p, q in _pairs(model)):
                        row[c] = math.nan
                elif first and special < n_failed + n_unusable + n_at_bound:
                    special += 1
                    p = model.params[-1]
                    row[f"{p.name}_est"] = 1000.0 if p.kind == "positive" else 1 - 6e-6
                    row["at_bound"] = True
            else:
                row.update(rhat_max=1.002, ess_bulk_min=float(rng.uniform(800, 1600)))
                row.update(ess_tail_min=900.0, divergences=0.0)
                for p in model.param_names:
                    row[f"{p}_mcse"] = row[f"{p}_sd"] / math.sqrt(row["ess_bulk_min"])
                if first and special == n_failed:
                    special += 1
                    row["divergences"] = 2.0
            rows.append(row)
    return pd.DataFrame(rows, columns=summary_columns(model.param_names, levels))


def _pairs(model: Model) -> list[tuple[str, str]]:
    names = model.param_names
    return [(p, q) for i, p in enumerate(names) for q in names[i + 1 :]]


def make_sbc(model: Model, n: int = 120, *, seed: int = 1, levels=(0.5, 0.9)) -> pd.DataFrame:
    """An SBC table: ``n`` prior truths, one dataset each, cell ``"sbc"``, 100 trials."""
    return make_recovery(
        model, "prior", n_points=n, n_rep=1, trials=(100,), levels=levels, seed=seed, cell="sbc"
    )


EXACT_COLUMNS = [
    "model",
    "method",
    "cell",
    "n_trials",
    "replicate",
    "parameter",
    "true_value",
    "exact_mean",
    "exact_sd",
    "exact_mean_se",
    "exact_cdf_true",
    "mcmc_mean",
    "mcmc_mcse",
    "mcmc_cdf_true",
    "z",
    "cdf_diff",
    "divergences",
    "status",
    "reference",
    "reference_reliable",
    "reference_note",
]


def make_exact(
    model: Model, recovery: pd.DataFrame, *, seed: int = 2, n_unreliable: int = 1
) -> pd.DataFrame:
    """An exact-check table of the first replicate of every cell's PyMC fits.

    z is standard normal, but the first ok fit's first parameter has z = 6 (an outlier)
    and the last ``n_unreliable`` checked datasets have an unreliable reference. The
    reference is quadrature up to three parameters, importance sampling for four.
    """
    rng = np.random.default_rng(seed)
    sel = recovery[(recovery["method"] != "mle") & (recovery["replicate"] == 0)]
    reference = "quadrature" if model.n_params <= 3 else "importance sampling"
    rows = []
    n_rows = len(sel)
    outlier = True
    for i, rec in enumerate(sel.to_dict("records")):
        failed = rec["status"] != "ok"
        reliable = i < n_rows - n_unreliable
        for j, p in enumerate(model.param_names):
            z = math.nan if failed else (6.0 if outlier and j == 0 else float(rng.normal()))
            rows.append(
                {
                    "model": model.name,
                    "method": rec["method"],
                    "cell": rec["cell"],
                    "n_trials": rec["n_trials"],
                    "replicate": 0,
                    "parameter": p,
                    "true_value": rec[f"{p}_true"],
                    "exact_mean": rec[f"{p}_est"],
                    "exact_sd": rec[f"{p}_sd"],
                    "exact_mean_se": 0.0,
                    "exact_cdf_true": rec[f"{p}_cdf_true"],
                    "mcmc_mean": rec[f"{p}_est"],
                    "mcmc_mcse": rec[f"{p}_mcse"],
                    "mcmc_cdf_true": rec[f"{p}_cdf_true"],
                    "z": z,
                    "cdf_diff": 0.0,
                    "divergences": rec["divergences"],
                    "status": "failed" if failed else "ok",
                    "reference": reference,
                    "reference_reliable": reliable,
                    "reference_note": f"{model.n_params}-D {reference}"
                    + ("" if reliable else "; NOT reliable"),
                }
            )
        outlier = outlier and failed
    return pd.DataFrame(rows, columns=EXACT_COLUMNS)
