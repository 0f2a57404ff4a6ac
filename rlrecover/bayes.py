"""The two PyMC models of the reference notebook, and posterior sampling of many datasets.

Both models take their data from ``pm.Data`` containers, so one compiled model
serves every dataset of a job: nutpie swaps the data with ``with_data`` and
``pm.sample`` with ``pm.set_data``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numba
import numpy as np

from rlrecover.config import Priors, SamplerSettings
from rlrecover.model import check_data
from rlrecover.pytensor_ops import loglik_op, right_probs_op, scan_loglik, scan_right_probs


def _import_pymc():
    # ArviZ (imported by PyMC) compiles a numba ufunc with @vectorize at import time,
    # about 1.3 s in every process that imports PyMC. Letting numba cache it on disk
    # makes every fitting job after the first start that much sooner; the function and
    # its results are unchanged.
    original = numba.vectorize

    def cached_vectorize(*args, **kwargs):
        kwargs.setdefault("cache", True)
        return original(*args, **kwargs)

    numba.vectorize = cached_vectorize
    try:
        import pymc
    finally:
        numba.vectorize = original
    return pymc


pm = _import_pymc()


__all__ = ["KINDS", "PosteriorFit", "build_model", "sample_posteriors"]

KINDS = ("potential", "bernoulli")


def build_model(
    kind: str,
    actions: np.ndarray,
    rewards: np.ndarray,
    priors: Priors = Priors(),
    q_init: float = 0.5,
    likelihood: str = "op",
) -> pm.Model:
    """Build one of the notebook's two PyMC models.

    Parameters
    ----------
    kind : {"potential", "bernoulli"}
        ``"potential"`` adds the log-likelihood with ``pm.Potential``;
        ``"bernoulli"`` observes ``actions[1:]`` with ``pm.Bernoulli(p=...)``, so prior
        and posterior predictive sampling work.
    actions, rewards : numpy.ndarray
        Initial data (replaceable later through the ``pm.Data`` containers
        ``"actions"`` and ``"rewards"``).
    priors : Priors
        alpha ~ Beta(a, b), beta ~ HalfNormal(sigma).
    q_init : float, default 0.5
        Initial Q value.
    likelihood : {"op", "scan"}, default "op"
        ``"op"``: the one-pass numba Ops; ``"scan"``: the notebook's ``pytensor.scan``
        graph (reference, slow).

    Returns
    -------
    pymc.Model
    """
    if kind not in KINDS:
        raise ValueError(f"model kind must be one of {KINDS}, got {kind!r}")
    if likelihood not in ("op", "scan"):
        raise ValueError(f"likelihood must be 'op' or 'scan', got {likelihood!r}")
    actions = np.asarray(actions, dtype=np.int64)
    rewards = np.asarray(rewards, dtype=np.int64)
    # The likelihoods keep p inside [0, 1] and the priors' transforms keep alpha and
    # beta in their supports, so PyMC's parameter checks can never fire: dropping them
    # (check_bounds=False) removes work from every gradient evaluation.
    with pm.Model(check_bounds=False) as model:
        actions_d = pm.Data("actions", actions)
        rewards_d = pm.Data("rewards", rewards)
        alpha = pm.Beta("alpha", alpha=priors.alpha_a, beta=priors.alpha_b)
        beta = pm.HalfNormal("beta", sigma=priors.beta_sigma)
        if kind == "potential":
            fn = loglik_op if likelihood == "op" else scan_loglik
            pm.Potential("like", fn(alpha, beta, actions_d, rewards_d, q_init))
        else:
            fn = right_probs_op if likelihood == "op" else scan_right_probs
            p = fn(alpha, beta, actions_d, rewards_d, q_init)
            pm.Bernoulli("like", p=p, observed=actions_d[1:])
    return model


@dataclass
class PosteriorFit:
    """Posterior draws and sampler diagnostics of one dataset.

    Attributes
    ----------
    key : object
        The caller's label of the dataset (e.g. its replicate number).
    draws : dict of str to numpy.ndarray
        ``{"alpha": (chains, draws), "beta": (chains, draws)}``; empty when failed.
    rhat_max, ess_bulk_min, ess_tail_min : float
        Worst R-hat and smallest bulk and tail ESS over both parameters.
    divergences : int
        Divergent transitions after tuning.
    seconds : float
        Wall time of sampling and diagnostics.
    compile_seconds : float
        Time spent building and compiling the model before this dataset (only the
        first dataset of a call pays it; 0 for the others).
    error : str
        Empty on success, else the exception text.
    """

    key: object
    draws: dict[str, np.ndarray]
    rhat_max: float = np.nan
    ess_bulk_min: float = np.nan
    ess_tail_min: float = np.nan
    divergences: float = np.nan
    seconds: float = np.nan
    compile_seconds: float = 0.0
    error: str = ""


def _diagnostics(draws: dict[str, np.ndarray]) -> tuple[float, float, float]:
    # ArviZ's rank-normalised split R-hat and bulk/tail ESS on (chain, draw) arrays.
    # The array-level functions skip the xarray wrapping of az.rhat / az.ess, which
    # costs more than the computation itself (6 ms against 15 ms per parameter).
    from arviz.stats.diagnostics import _ess_bulk, _ess_tail, _rhat_rank

    rhat = max(float(_rhat_rank(x)) for x in draws.values())
    ess_bulk = min(float(_ess_bulk(x)) for x in draws.values())
    ess_tail = min(float(_ess_tail(x)) for x in draws.values())
    return rhat, ess_bulk, ess_tail


def _nutpie_sampler(
    model: pm.Model, settings: SamplerSettings
) -> Callable[[np.ndarray, np.ndarray, int], tuple[dict[str, np.ndarray], int]]:
    import nutpie

    from rlrecover.nutpie_compile import compile_model

    compiled = compile_model(model)

    def run(actions, rewards, seed):
        cm = compiled.with_data(actions=actions, rewards=rewards)
        # The raw trace skips the conversion to InferenceData (~60 ms a fit); it holds
        # one record batch of draws and one of statistics per chain, warm-up included.
        raw = nutpie.sample(
            cm,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=1,
            seed=seed,
            target_accept=settings.target_accept,
            progress_bar=False,
            save_warmup=False,
            return_raw_trace=True,
        )
        draw_batches, stat_batches = raw.get_arrow_trace()
        kept = [~np.asarray(st.column("tuning")) for st in stat_batches]
        draws = {
            p: np.stack(
                [np.asarray(b.column(p))[k] for b, k in zip(draw_batches, kept, strict=True)]
            )
            for p in ("alpha", "beta")
        }
        div = sum(
            int(np.asarray(st.column("diverging"))[k].sum())
            for st, k in zip(stat_batches, kept, strict=True)
        )
        return draws, div

    return run


def _pymc_sampler(
    model: pm.Model, settings: SamplerSettings
) -> Callable[[np.ndarray, np.ndarray, int], tuple[dict[str, np.ndarray], int]]:
    def run(actions, rewards, seed):
        # pm.sample compiles its functions on every call, and PyTensor's compilation is
        # not thread-safe; its NUTS holds the GIL anyway, so runs are serialised.
        with _PYMC_LOCK, model:
            pm.set_data({"actions": actions, "rewards": rewards})
            trace = pm.sample(
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=1,
                target_accept=settings.target_accept,
                random_seed=seed,
                progressbar=False,
                compute_convergence_checks=False,
                return_inferencedata=True,
            )
        post = trace.posterior
        draws = {p: post[p].to_numpy() for p in ("alpha", "beta")}
        div = int(trace.sample_stats["diverging"].to_numpy().sum())
        return draws, div

    return run


# Compiled nutpie models are immutable (``with_data`` returns a copy), so one per
# model specification serves every later call in the process, from any thread.
_NUTPIE_RUNNERS: dict[tuple, Callable] = {}
_COMPILE_LOCK = threading.Lock()
_PYMC_LOCK = threading.Lock()


def _runner(kind, actions, rewards, settings, priors, q_init, likelihood):
    make = {"nutpie": _nutpie_sampler, "pymc": _pymc_sampler}.get(settings.backend)
    if make is None:
        raise ValueError(f"sampler backend must be 'nutpie' or 'pymc', got {settings.backend!r}")
    if settings.backend == "pymc":
        # pm.set_data mutates the model: a fresh one per call.
        with _PYMC_LOCK:
            model = build_model(kind, actions, rewards, priors, q_init, likelihood)
        return make(model, settings)
    key = (kind, actions.shape[0], settings, priors, float(q_init), likelihood)
    with _COMPILE_LOCK:  # PyTensor's compilation is not thread-safe
        if key not in _NUTPIE_RUNNERS:
            model = build_model(kind, actions, rewards, priors, q_init, likelihood)
            _NUTPIE_RUNNERS[key] = make(model, settings)
        return _NUTPIE_RUNNERS[key]


def sample_posteriors(
    kind: str,
    datasets: Iterable[tuple[object, np.ndarray, np.ndarray, int]],
    settings: SamplerSettings,
    priors: Priors = Priors(),
    q_init: float = 0.5,
    likelihood: str = "op",
) -> Iterator[PosteriorFit]:
    """Sample the posterior of one model for many datasets, compiling it once.

    Parameters
    ----------
    kind : {"potential", "bernoulli"}
        Which of the notebook's models.
    datasets : iterable of (key, actions, rewards, seed)
        All datasets must have the same number of trials (one compiled model).
    settings : SamplerSettings
        Backend (``"nutpie"`` or ``"pymc"``), chains, tune, draws, target_accept.
    priors : Priors
        Prior parameters.
    q_init : float
        Initial Q value.
    likelihood : {"op", "scan"}
        Likelihood implementation (see :func:`build_model`).

    Notes
    -----
    With the nutpie backend the compiled model is kept for the life of the process
    and reused by later calls with the same kind, number of trials, settings and
    priors (thread-safe), so a process that fits many cells compiles each model once.

    Yields
    ------
    PosteriorFit
        One per dataset, in input order. A dataset whose sampling raises yields a
        fit with ``error`` set; the others still run.
    """
    runner = None
    n_trials = None
    for key, actions, rewards, seed in datasets:
        actions = np.ascontiguousarray(actions, dtype=np.int64)
        rewards = np.ascontiguousarray(rewards, dtype=np.int64)
        compile_seconds = 0.0
        if runner is None:
            t0 = time.perf_counter()
            runner = _runner(kind, actions, rewards, settings, priors, q_init, likelihood)
            n_trials = actions.shape[0]
            compile_seconds = time.perf_counter() - t0
        start = time.perf_counter()
        try:
            check_data(actions, rewards)
            if actions.shape[0] != n_trials:
                raise ValueError(
                    f"all datasets of one call need the same n_trials: {n_trials} "
                    f"then {actions.shape[0]}"
                )
            draws, div = runner(actions, rewards, int(seed))
            rhat, ess_bulk, ess_tail = _diagnostics(draws)
            yield PosteriorFit(
                key=key,
                draws=draws,
                rhat_max=rhat,
                ess_bulk_min=ess_bulk,
                ess_tail_min=ess_tail,
                divergences=div,
                seconds=time.perf_counter() - start,
                compile_seconds=compile_seconds,
            )
        except Exception as exc:  # a failed dataset must not lose the others
            yield PosteriorFit(
                key=key,
                draws={},
                seconds=time.perf_counter() - start,
                compile_seconds=compile_seconds,
                error=f"{type(exc).__name__}: {exc}",
            )
