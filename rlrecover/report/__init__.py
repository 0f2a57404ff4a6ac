"""The report of a recovery study: its figures and the self-contained HTML page.

=======================================  ===================================================
module                                   what
=======================================  ===================================================
:mod:`~rlrecover.report.layout`          which tables and figures each model gets
:mod:`~rlrecover.report.style`           shared figure helpers: saving, method styles, axes
:mod:`~rlrecover.report.recovery`        ``plot_recovery``: estimates against truth
:mod:`~rlrecover.report.maps`            ``plot_grid_map``, ``plot_tradeoff`` (2-D grids)
:mod:`~rlrecover.report.matrices`        ``plot_correlations``, ``plot_error_dependence``
:mod:`~rlrecover.report.design`          ``plot_design``: how many trials are needed
:mod:`~rlrecover.report.coverage`        ``plot_coverage``, ``plot_coverage_curve``
:mod:`~rlrecover.report.sbc`             ``plot_sbc_ranks``, ``plot_sbc_ecdf``
:mod:`~rlrecover.report.exact`           ``plot_exact_check``: the sampler against the
                                         reference posterior
:mod:`~rlrecover.report.figures`         every figure function in one place
:mod:`~rlrecover.report.html`            ``render_report``, ``write_report`` (the page)
=======================================  ===================================================

``render_report``, ``write_report``, ``package_versions`` and the section lists of
:mod:`rlrecover.report.html` can be imported from here; they are loaded on first use,
so importing a figure module does not import Jinja2.
"""

from __future__ import annotations

import importlib
from typing import Any

_FROM_HTML = (
    "MODEL_SECTIONS",
    "STUDY_SECTIONS",
    "package_versions",
    "render_report",
    "write_report",
)

__all__ = list(_FROM_HTML)


def __getattr__(name: str) -> Any:
    if name in _FROM_HTML:
        return getattr(importlib.import_module("rlrecover.report.html"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
