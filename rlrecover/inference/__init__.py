"""Fitting a model to one dataset: maximum likelihood, the PyMC models and their sampling,
the nutpie compile, the PyTensor Ops and rewrite, posterior draws and their summaries,
and the reference posteriors (quadrature, importance sampling) that check the sampler.

Every function takes the model's record (:class:`rlrecover.models.base.Model`); nothing
here names a parameter or imports Snakemake.
"""
