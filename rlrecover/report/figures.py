"""Every figure of a recovery study, importable from one place.

The figure workers of :func:`rlrecover.run.jobs.draw_figures` import this module once
(:data:`rlrecover.run.jobs.FIGURE_MODULES`), so that a worker has every drawing
function (and matplotlib) loaded before it is given a figure. :data:`FIGURES` maps
the names of :func:`rlrecover.report.layout.figure_names` (``recovery_{param}``
apart, which is :func:`plot_recovery` of one parameter), the SBC figures and
``exact_check`` to their functions.

Every function takes its table (or the recovery table) first, the model second and
the output path last (``plot_recovery`` and ``plot_grid_map`` take the parameter or
the metric before the path), writes a PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Callable

from rlrecover.report.coverage import plot_coverage, plot_coverage_curve
from rlrecover.report.design import plot_design
from rlrecover.report.exact import plot_exact_check
from rlrecover.report.maps import MAP_METRICS, plot_grid_map, plot_tradeoff
from rlrecover.report.matrices import plot_correlations, plot_error_dependence
from rlrecover.report.recovery import plot_recovery
from rlrecover.report.sbc import plot_sbc_ecdf, plot_sbc_ranks

__all__ = [
    "FIGURES",
    "MAP_METRICS",
    "plot_correlations",
    "plot_coverage",
    "plot_coverage_curve",
    "plot_design",
    "plot_error_dependence",
    "plot_exact_check",
    "plot_grid_map",
    "plot_recovery",
    "plot_sbc_ecdf",
    "plot_sbc_ranks",
    "plot_tradeoff",
]

#: The drawing function of each figure name, and the table it draws: ``recovery``
#: (the model's recovery table), ``sbc_recovery`` (its SBC table) or a table name of
#: :func:`rlrecover.report.layout.table_names`. A ``map_<metric>`` figure is
#: :func:`plot_grid_map` of that metric of the recovery table.
FIGURES: dict[str, tuple[Callable[..., object], str]] = {
    "coverage": (plot_coverage, "coverage"),
    "coverage_curve": (plot_coverage_curve, "coverage_curve"),
    "design": (plot_design, "design"),
    "tradeoff": (plot_tradeoff, "tradeoff"),
    "correlations": (plot_correlations, "correlations"),
    "error_dependence": (plot_error_dependence, "error_dependence"),
    "sbc_ranks": (plot_sbc_ranks, "sbc_recovery"),
    "sbc_ecdf": (plot_sbc_ecdf, "sbc_recovery"),
    "sbc_coverage_curve": (plot_coverage_curve, "sbc_coverage_curve"),
    "exact_check": (plot_exact_check, "exact_check"),
}
