"""The tables of a recovery study, computed from one model's recovery table.

Every function takes the recovery table of ONE model (the rows of
``results/recovery.tsv`` of that model, columns
:func:`rlrecover.summary.summary_columns` of its parameters) and, when it needs the
parameters, the model's record (:class:`rlrecover.models.base.Model`) as its second
argument; none names a parameter. Each returns a tidy :class:`pandas.DataFrame`.

=================================  ===========================================================
module                             tables
=================================  ===========================================================
:mod:`~rlrecover.analysis.common`  shared pieces: which rows count, grouping, statistics,
                                   constants (``ALL_CELLS``, ``RHAT_MAX``, ``ESS_MIN``)
:mod:`~rlrecover.analysis.metrics`  ``recovery_metrics``, ``grid_map_table``,
                                   ``diagnostics``, ``runtime_table``
:mod:`~rlrecover.analysis.coverage`  ``coverage_table``
:mod:`~rlrecover.analysis.design`  ``rmse_targets``, ``design_table``, ``design_cells_table``
:mod:`~rlrecover.analysis.tradeoff`  ``tradeoff_table``, ``correlation_table``,
                                   ``error_dependence_table``
:mod:`~rlrecover.analysis.sbc`     ``coverage_curve``, ``sbc_table``, ``ecdf_band``
:mod:`~rlrecover.analysis.headline`  ``headline_table`` (the report's first screen)
=================================  ===========================================================

The figures drawn from these tables are in :mod:`rlrecover.report`.
"""
