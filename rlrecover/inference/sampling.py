"""Posterior sampling of many datasets with one compiled PyMC model.

The models (:func:`rlrecover.inference.pymc_models.build_model`) take their data from
``pm.Data`` containers, so one compiled model serves every dataset of a job: nutpie
swaps the data with ``with_data`` and ``pm.sample`` with ``pm.set_data``. Importing
this module registers the rewrite of :mod:`rlrecover.inference.rewrites` that fuses the
Bernoulli model's likelihood.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

import rlrecover.inference.rewrites  # noqa: F401  (registers the fused Bernoulli likelihood)
from rlrecover.cancel import CANCEL, Cancelled, active_fit, check_cancel
from rlrecover.config import SamplerSettings
from rlrecover.inference.posterior import PosteriorFit, posterior_diagnostics
from rlrecover.inference.pymc_models import build_model
from rlrecover.models import get as get_model
from rlrecover.models.base import Model, Priors, check_data
from rlrecover.numba_cache import import_with_numba_cache

# ArviZ (imported by PyMC) compiles numba functions in every process that uses them;
# imported this way, numba caches them on disk (rlrecover.numba_cache).
pm = import_with_numba_cache("pymc")


__all__ = ["IN_FLIGHT", "ModelSpec", "sample_posteriors"]


@dataclass(frozen=True)
class ModelSpec:
    """What a compiled PyMC model depends on (not the data, nor the sampler settings).

    Attributes
    ----------
    model : str
        The learning model's name.
    kind : {"potential", "bernoulli"}
        Which of the notebook's two models.
    priors : Priors
        The parameters' priors.
    consts : tuple of float
        The model's constants (``(q_init,)`` for ``rw``).
    likelihood : {"op", "scan"}
        The likelihood's implementation.
    """

    model: str
    kind: str
    priors: Priors
    consts: tuple[float, ...] = ()
    likelihood: str = "op"

    def build(self, actions: np.ndarray, rewards: np.ndarray):
        """The PyMC model of this specification with initial data."""
        return build_model(
            get_model(self.model),
            self.kind,
            actions,
            rewards,
            self.priors,
            self.consts,
            self.likelihood,
        )


class _Finished:
    """A fit that has ended: ``result()`` returns ``(draws, divergences)`` or raises."""

    def __init__(
        self,
        draws: dict[str, np.ndarray] | None = None,
        divergences: int = 0,
        error: Exception | None = None,
    ) -> None:
        self._result = (draws, divergences)
        self._error = error

    def wait(self) -> None:
        pass

    def result(self) -> tuple[dict[str, np.ndarray], int]:
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> None:
        pass


class _NutpieFit:
    """A nutpie fit sampling in the background (outside Python's lock)."""

    def __init__(self, sampler, params: tuple[str, ...]) -> None:
        self._sampler = sampler
        self._params = params
        self._raw = None
        self._error: Exception | None = None

    def wait(self) -> None:
        """Wait until the sampler is done; stop it if the run is cancelled (Ctrl-C)."""
        if self._raw is not None or self._error is not None:
            return
        # Wait in slices so that Ctrl-C (rlrecover.cancel.CANCEL) stops the sampler
        # within half a second; a thread other than the main one never sees the signal.
        with active_fit():
            while True:
                try:
                    self._raw = self._sampler.wait(timeout=_WAIT_SLICE)
                    return
                except TimeoutError:
                    if CANCEL.is_set():
                        self._sampler.cancel()
                        check_cancel()
                except Exception as exc:  # reported as this dataset's error
                    self._error = exc
                    return

    def result(self) -> tuple[dict[str, np.ndarray], int]:
        """The draws after warm-up, ``{param: (chains, draws)}``, and the divergences."""
        self.wait()
        if self._error is not None:
            raise self._error
        draw_batches, stat_batches = self._raw.get_arrow_trace()
        kept = [~np.asarray(st.column("tuning")) for st in stat_batches]
        draws = {
            p: np.stack(
                [np.asarray(b.column(p))[k] for b, k in zip(draw_batches, kept, strict=True)]
            )
            for p in self._params
        }
        div = sum(
            int(np.asarray(st.column("diverging"))[k].sum())
            for st, k in zip(stat_batches, kept, strict=True)
        )
        return draws, div

    def cancel(self) -> None:
        """Stop the sampler (a fit abandoned half-way)."""
        if self._raw is None:
            self._sampler.cancel()


# A sampler starts a fit of one dataset, ``start(actions, rewards, seed, cores)``, and
# returns it as an object whose ``wait()`` waits for the sampler to finish and whose
# ``result()`` returns ``(draws, divergences)``.
Starter = Callable[[np.ndarray, np.ndarray, int, int], "_Finished | _NutpieFit"]


def _nutpie_sampler(
    model: pm.Model,
    params: tuple[str, ...],
    settings: SamplerSettings,
    log: Callable[[str], None] | None,
) -> Starter:
    import nutpie

    from rlrecover.inference.nutpie_compile import compile_model

    compiled = compile_model(model, log=log)

    def start(actions, rewards, seed, cores=1):
        cm = compiled.with_data(actions=actions, rewards=rewards)
        # The raw trace skips the conversion to InferenceData, a large share of a short
        # fit's time; it holds one record batch of draws and one of statistics per
        # chain, warm-up included.
        sampler = nutpie.sample(
            cm,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=cores,
            seed=seed,
            target_accept=settings.target_accept,
            progress_bar=False,
            save_warmup=False,
            return_raw_trace=True,
            blocking=False,
        )
        return _NutpieFit(sampler, params)

    return start


def _pymc_sampler(
    model: pm.Model,
    params: tuple[str, ...],
    settings: SamplerSettings,
    log: Callable[[str], None] | None,
) -> Starter:
    def run(actions, rewards, seed, cores=1):
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
        draws = {p: post[p].to_numpy() for p in params}
        div = int(trace.sample_stats["diverging"].to_numpy().sum())
        return _Finished(draws, div)

    return run


# Compiled nutpie models are immutable (``with_data`` returns a copy), so one per
# model specification serves every later call in the process, from any thread.
_NUTPIE_RUNNERS: dict[tuple[ModelSpec, SamplerSettings], Callable] = {}
# Seconds between checks for Ctrl-C while nutpie samples.
_WAIT_SLICE = 0.5
#: Datasets of one :func:`sample_posteriors` call sampling at once: the one being
#: awaited and diagnosed, and those started after it.
IN_FLIGHT = 3
_COMPILE_LOCK = threading.Lock()
_PYMC_LOCK = threading.Lock()


def _runner(spec, actions, rewards, settings, log, before_compile):
    make = {"nutpie": _nutpie_sampler, "pymc": _pymc_sampler}.get(settings.backend)
    if make is None:
        raise ValueError(f"sampler backend must be 'nutpie' or 'pymc', got {settings.backend!r}")
    params = get_model(spec.model).param_names
    if settings.backend == "pymc":
        # pm.set_data mutates the model: a fresh one per call.
        with _PYMC_LOCK:
            model = spec.build(actions, rewards)
        return make(model, params, settings, log)
    # The compiled model takes data of any length (the shapes are symbolic), so one
    # model per specification serves every number of trials.
    key = (spec, settings)
    if key not in _NUTPIE_RUNNERS and before_compile is not None:
        # e.g. wait until a warm-up process has put this model in the caches
        # (rlrecover.run.warmup), to load it from there instead of compiling it twice
        before_compile(spec)
    with _COMPILE_LOCK:  # PyTensor's compilation is not thread-safe
        if key not in _NUTPIE_RUNNERS:
            model = spec.build(actions, rewards)
            _NUTPIE_RUNNERS[key] = make(model, params, settings, log)
        return _NUTPIE_RUNNERS[key]


def sample_posteriors(
    model: Model,
    kind: str,
    datasets: Iterable[tuple[object, np.ndarray, np.ndarray, int]],
    settings: SamplerSettings,
    priors: Priors,
    consts: tuple[float, ...] | None = None,
    likelihood: str = "op",
    log: Callable[[str], None] | None = None,
    cores: int = 1,
    before_compile: Callable[[ModelSpec], object] | None = None,
) -> Iterator[PosteriorFit]:
    """Sample the posterior of one PyMC model for many datasets, compiling it once.

    Parameters
    ----------
    model : Model
        The learning model.
    kind : {"potential", "bernoulli"}
        Which of the notebook's models.
    datasets : iterable of (key, actions, rewards, seed)
        All datasets must have the same number of trials.
    settings : SamplerSettings
        Backend (``"nutpie"`` or ``"pymc"``), chains, tune, draws, target_accept.
    priors : Priors
        The parameters' priors.
    consts : tuple of float, optional
        The model's constants (default: their defaults).
    likelihood : {"op", "scan"}
        Likelihood implementation (see
        :func:`rlrecover.inference.pymc_models.build_model`).
    log : callable, optional
        Receives a warning line if the fast nutpie compile fails and the stock one is
        used instead (see :func:`rlrecover.inference.nutpie_compile.compile_model`).
    cores : int, default 1
        Threads nutpie runs the chains of one fit on (``min(cores, chains)`` at once).
        Each chain has its own random stream, so the draws do not depend on it.
    before_compile : callable, optional
        Called with the :class:`ModelSpec` before a model that this process has not
        compiled yet is built (the workflow waits there for its warm-up process).

    Notes
    -----
    With the nutpie backend the compiled model is kept for the life of the process
    and reused by later calls with the same specification and settings, whatever
    their number of trials (thread-safe), so a process that fits many cells compiles each
    model once.

    Each dataset starts sampling as soon as the previous one's has started, before
    the earlier ones' draws are awaited, converted, diagnosed and handed to the
    caller: up to :data:`IN_FLIGHT` samplers run at once, so the core always has
    sampling to do while this thread waits for Python's lock or does the Python work.
    A fit's ``seconds`` is the time since the previous fit was handed over (for the
    first, since it started): its share of the call's time. A caller that stops
    iterating early (or an exception) cancels those still sampling.

    Yields
    ------
    PosteriorFit
        One per dataset, in input order. A dataset whose sampling raises yields a
        fit with ``error`` set; the others still run.

    Raises
    ------
    rlrecover.cancel.Cancelled
        When the run is asked to stop (Ctrl-C), between datasets or while sampling
        (nutpie stops within half a second).
    """
    consts = model.default_consts if consts is None else tuple(float(c) for c in consts)
    spec = ModelSpec(model.name, kind, priors, consts, likelihood)
    runner = None
    n_trials = None
    # Datasets start sampling (outside Python's lock) before the earlier ones' results
    # are awaited; those are then converted, diagnosed and handed to the caller while
    # the later ones sample. With one sampler at a time, the core idled whenever this
    # thread, between two samplers, waited for Python's lock held by another job's
    # thread (measured on the shipped study, 2 cores: 145.5 s against 136.6 s with
    # two in flight; with three, the idle core-seconds between the run's first 20 and
    # last 5 seconds fell from 6.3 to 4.6). Each fit has its own seed: same draws.
    pending: collections.deque = collections.deque()
    handed_over = None  # when the previous fit was handed to the caller
    try:
        for key, actions, rewards, seed in datasets:
            check_cancel()
            actions = np.ascontiguousarray(actions, dtype=np.int64)
            rewards = np.ascontiguousarray(rewards, dtype=np.int64)
            compile_seconds = 0.0
            if runner is None:
                t0 = time.perf_counter()
                runner = _runner(spec, actions, rewards, settings, log, before_compile)
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
                fit = runner(actions, rewards, int(seed), int(cores))
            except Cancelled:
                raise
            except Exception as exc:  # a failed dataset must not lose the others
                fit = _Finished(error=exc)
            pending.append((key, start, compile_seconds, fit))
            while len(pending) >= IN_FLIGHT:
                done = _finish(*_since(pending.popleft(), handed_over))
                handed_over = time.perf_counter()
                yield done
        while pending:
            done = _finish(*_since(pending.popleft(), handed_over))
            handed_over = time.perf_counter()
            yield done
    finally:
        for started in pending:
            started[3].cancel()  # the caller stopped early: stop those samplers too


def _since(started: tuple, handed_over: float | None) -> tuple:
    """A started fit whose time counts from ``handed_over`` if it started earlier."""
    key, start, compile_seconds, fit = started
    return key, start if handed_over is None else max(start, handed_over), compile_seconds, fit


def _finish(
    key: object, start: float, compile_seconds: float, fit: _Finished | _NutpieFit
) -> PosteriorFit:
    """The :class:`PosteriorFit` of a started fit: its draws and diagnostics, or error."""
    try:
        draws, div = fit.result()
        rhat, ess_bulk, ess_tail = posterior_diagnostics(draws)
        return PosteriorFit(
            key=key,
            draws=draws,
            rhat_max=rhat,
            ess_bulk_min=ess_bulk,
            ess_tail_min=ess_tail,
            divergences=div,
            seconds=time.perf_counter() - start,
            compile_seconds=compile_seconds,
        )
    except Cancelled:
        raise
    except Exception as exc:  # a failed dataset must not lose the others
        return PosteriorFit(
            key=key,
            draws={},
            seconds=time.perf_counter() - start,
            compile_seconds=compile_seconds,
            error=f"{type(exc).__name__}: {exc}",
        )
