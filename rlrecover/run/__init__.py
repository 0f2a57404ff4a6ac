"""The workflow's run machinery: one function per Snakemake job (:mod:`~rlrecover.run.jobs`),
the warm-up process that compiles the PyMC models (:mod:`~rlrecover.run.warmup`),
per-dataset checkpoints (:mod:`~rlrecover.run.checkpoint`) and the handling of Ctrl-C
and killed runs (:mod:`~rlrecover.run.interrupt`). Nothing here imports Snakemake; the
rules call these functions.
"""
