"""The true parameter values a study simulates: a grid, Sobol points or prior draws.

A model's entry in the config gives its truths in one of three ways:

* ``grid: {param: [values], ...}``: every combination of the listed values;
* ``truths: {sobol: N, ranges: {param: [low, high], ...}}``: ``N`` scrambled Sobol
  points (:class:`scipy.stats.qmc.Sobol`, seeded), spread uniformly over the ranges,
  on the log scale for positive parameters (inverse temperatures), so a
  4-parameter model is covered evenly with a few dozen truths instead of a 625-cell
  grid;
* ``truths: {prior: N}``: ``N`` draws from the model's priors.

Every value is rounded to the 12 significant digits of the paths and labels
(:func:`rlrecover.seeds.format_value`), so a truth read back from its cell label is
the truth simulated. The Sobol points and prior draws depend only on the configured
seed and the model (and the priors), never on the other models of the study.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from rlrecover.models.base import Model
from rlrecover.seeds import derive_seed, format_value

__all__ = ["design_kind", "model_truths"]


def _canonical(model: Model, values) -> dict[str, float]:
    return {
        p: float(format_value(float(v))) for p, v in zip(model.param_names, values, strict=True)
    }


def design_kind(entry: Mapping[str, Any]) -> str:
    """``"grid"``, ``"sobol"`` or ``"prior"``: how a validated model entry gives its truths."""
    if "grid" in entry:
        return "grid"
    return "sobol" if "sobol" in entry["truths"] else "prior"


def model_truths(model: Model, entry: Mapping[str, Any], seed: int) -> list[dict[str, float]]:
    """The truths of one model of the study, in a fixed order.

    Parameters
    ----------
    model : Model
        The model.
    entry : mapping
        Its validated entry under ``models`` (defaults filled in).
    seed : int
        The configured seed.

    Returns
    -------
    list of dict
        One ``{param: value}`` per truth (each distinct), in the model's parameter
        order: grid cells in the order of :func:`itertools.product` over the
        parameters' listed values, Sobol points and prior draws in the order drawn.
    """
    kind = design_kind(entry)
    if kind == "grid":
        grid = entry["grid"]
        rows = itertools.product(*(grid[p] for p in model.param_names))
        truths = [_canonical(model, row) for row in rows]
    elif kind == "sobol":
        from scipy.stats import qmc

        n = int(entry["truths"]["sobol"])
        ranges = entry["truths"]["ranges"]
        rng = np.random.default_rng(derive_seed(seed, "truths", "sobol", model.name))
        with warnings.catch_warnings():
            # Sobol points balance best in powers of 2; scipy warns about any other N.
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            unit = qmc.Sobol(d=model.n_params, scramble=True, seed=rng).random(n)
        columns = []
        for j, p in enumerate(model.params):
            lo, hi = (float(v) for v in ranges[p.name])
            if p.log_scale:
                columns.append(np.exp(math.log(lo) + unit[:, j] * (math.log(hi) - math.log(lo))))
            else:
                columns.append(lo + unit[:, j] * (hi - lo))
        truths = [_canonical(model, row) for row in zip(*columns, strict=True)]
    else:
        priors = model.priors_from_config(entry["priors"])
        rng = np.random.default_rng(derive_seed(seed, "truths", "prior", model.name))
        truths = [
            _canonical(model, priors.draw(rng).values())
            for _ in range(int(entry["truths"]["prior"]))
        ]
    out, seen = [], set()
    for truth in truths:
        key = tuple(truth.values())
        if key not in seen:
            seen.add(key)
            for p in model.params:
                p.check(truth[p.name])
            out.append(truth)
    return out
