"""Which tables and figures a model's part of a study has: the one list of them.

The workflow asks for these outputs and the report shows them, so both read them here.
What a model gets depends on its number of parameters and on how its truths are
given (:func:`rlrecover.truths.design_kind`):

* every model: recovery against truth per parameter, coverage, coverage at every
  level, the number-of-trials axis, the exact check, and with SBC its three figures;
* two parameters on a grid: maps of bias, RMSE, coverage and flagged fits over the
  grid, and the trade-off of the two parameters per cell;
* more than two parameters, or two with Sobol or prior truths (no grid to map): how
  each parameter's error depends on each parameter's true value (binned), and the
  correlation matrices of estimation errors across datasets and of the parameters
  within fits (the generalised trade-off).
"""

from __future__ import annotations

from rlrecover.models.base import Model

__all__ = [
    "BASE_TABLES",
    "MAP_FIGURES",
    "MATRIX_FIGURES",
    "SBC_FIGURES",
    "SBC_TABLES",
    "figure_names",
    "has_maps",
    "has_matrices",
    "table_names",
]

#: Tables of every model.
BASE_TABLES = (
    "recovery_metrics",
    "coverage",
    "coverage_curve",
    "diagnostics",
    "runtime",
    "grid_map",
    "design",
    "design_cells",
)
#: Tables of a model with SBC.
SBC_TABLES = ("sbc", "sbc_coverage_curve")
#: Figures of a model with SBC.
SBC_FIGURES = ("sbc_ranks", "sbc_ecdf", "sbc_coverage_curve")
#: Figures of a two-parameter model on a grid.
MAP_FIGURES = ("map_bias", "map_rmse", "map_coverage90", "map_flagged", "tradeoff")
#: Figures of the other models with more than one parameter.
MATRIX_FIGURES = ("error_dependence", "correlations")


def has_maps(model: Model, design_kind: str) -> bool:
    """Whether the model's truths form a 2-D grid that can be mapped tile by tile."""
    return model.n_params == 2 and design_kind == "grid"


def has_matrices(model: Model, design_kind: str) -> bool:
    """Whether the model gets the binned error dependence and the correlation matrices."""
    return model.n_params >= 2 and not has_maps(model, design_kind)


def table_names(model: Model, design_kind: str) -> list[str]:
    """The tables of one model's ``tables`` job (SBC's and ``exact_check`` apart).

    Parameters
    ----------
    model : Model
    design_kind : {"grid", "sobol", "prior"}

    Returns
    -------
    list of str
    """
    names = list(BASE_TABLES)
    if model.n_params >= 2:
        names.append("tradeoff")
    if has_matrices(model, design_kind):
        names += ["correlations", "error_dependence"]
    return names


def figure_names(model: Model, design_kind: str) -> list[str]:
    """The figures of one model's ``plots`` job (SBC's and ``exact_check`` apart).

    Parameters
    ----------
    model : Model
    design_kind : {"grid", "sobol", "prior"}

    Returns
    -------
    list of str
    """
    names = [f"recovery_{p}" for p in model.param_names]
    names += ["coverage", "coverage_curve", "design"]
    if has_maps(model, design_kind):
        names += list(MAP_FIGURES)
    if has_matrices(model, design_kind):
        names += list(MATRIX_FIGURES)
    return names
