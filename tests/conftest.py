"""Shared fixtures: the reference notebook's dataset and the compiled scan reference."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from rlrecover import models
from rlrecover.config import Settings, full_schema, load_schema, validate_config
from rlrecover.inference.scan_reference import scan_loglik, scan_right_probs
from rlrecover.models.base import BetaPrior, HalfNormalPrior, Priors

#: The repository's root.
ROOT = Path(__file__).resolve().parents[1]
#: The config schema file, the one source of defaults.
SCHEMA = load_schema(ROOT / "workflow" / "schemas" / "config.schema.yaml")
#: The schema with the library's models (what the workflow validates against).
FULL_SCHEMA = full_schema(SCHEMA)
#: The notebook's model.
RW = models.get("rw")


def default_config(model: str = "rw", grid: dict | None = None, **overrides) -> dict:
    """The validated default config of one model with one truth, top-level sections replaced.

    ``grid`` is the model's grid (default: each unit parameter 0.5, each positive one 5).
    """
    record = models.get(model)
    grid = grid or {p.name: [0.5 if p.kind == "unit" else 5.0] for p in record.params}
    cfg = validate_config({"models": {model: {"grid": grid}}}, SCHEMA)
    cfg["task"]["n_trials"] = 150  # one job's number of trials
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def job_config(model: str = "rw", **overrides) -> dict:
    """The sections a fit job receives (``model`` by name, the model's ``priors``)."""
    cfg = default_config(model, **overrides)
    out = {k: v for k, v in cfg.items() if k != "models"}
    out["model"] = model
    out["priors"] = cfg["models"][model]["priors"]
    return out


def default_settings(model: str = "rw", **overrides) -> Settings:
    """:class:`Settings` of :func:`job_config` (same overrides)."""
    return Settings.from_config(job_config(model, **overrides))


def rw_priors(a: float = 1.0, b: float = 1.0, sigma: float = 10.0) -> Priors:
    """rw's priors: alpha ~ Beta(a, b), beta ~ HalfNormal(sigma)."""
    return Priors((("alpha", BetaPrior(a, b)), ("beta", HalfNormalPrior(sigma))))


def default_priors(model) -> Priors:
    """The schema's default priors of a model: Beta(1, 1) and HalfNormal(10)."""
    return Priors(
        tuple(
            (p.name, BetaPrior(1.0, 1.0) if p.kind == "unit" else HalfNormalPrior(10.0))
            for p in model.params
        )
    )


#: (alpha, beta) points where the Ops are checked, edges of the support included.
POINTS = [
    (alpha, beta)
    for alpha, beta in itertools.product((0.0, 1e-6, 0.5, 1 - 1e-6, 1.0), (1e-3, 1.0, 5.0, 50.0))
]


def op_datasets(notebook_data) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Seeded datasets the Ops are checked on: long, short, random, simulated, 2 trials."""
    rng = np.random.default_rng(20240601)
    return {
        "notebook": notebook_data,
        "random_1000": (rng.integers(0, 2, 1000), rng.integers(0, 2, 1000)),
        "simulated_300": RW.simulate({"alpha": 0.2, "beta": 8.0}, 300, rng),
        "simulated_20": RW.simulate({"alpha": 0.7, "beta": 3.0}, 20, rng),
        "two_trials": (np.array([1, 0]), np.array([1, 1])),
    }


#: Priors the densities are checked with: the default, a skewed one, and shapes below
#: 1 (densities infinite at alpha = 0 and 1).
PRIOR_CASES = [rw_priors(1.0, 1.0, 10.0), rw_priors(2.0, 5.0, 3.0), rw_priors(0.5, 0.5, 1.0)]


#: The reference notebook's seed, ``sum(map(ord, "RL_PyMC"))``.
NOTEBOOK_SEED = sum(map(ord, "RL_PyMC"))
NOTEBOOK_ALPHA = 0.5
NOTEBOOK_BETA = 5.0
NOTEBOOK_N = 150


def notebook_dataset() -> tuple[np.ndarray, np.ndarray]:
    """The notebook's 150-trial dataset (alpha 0.5, beta 5, p_r (0.4, 0.6), Q0 0.5)."""
    return RW.simulate(
        {"alpha": NOTEBOOK_ALPHA, "beta": NOTEBOOK_BETA},
        NOTEBOOK_N,
        np.random.default_rng(NOTEBOOK_SEED),
        reward_probs=(0.4, 0.6),
        consts={"q_init": 0.5},
    )


@pytest.fixture(scope="session")
def notebook_data() -> tuple[np.ndarray, np.ndarray]:
    """``(actions, rewards)`` of the reference notebook (read-only: do not mutate)."""
    actions, rewards = notebook_dataset()
    actions.setflags(write=False)
    rewards.setflags(write=False)
    return actions, rewards


class ScanReference:
    """The notebook's ``pytensor.scan`` graph, compiled once, with ``q_init`` symbolic.

    ``loglik_grad(alpha, beta, actions, rewards, q_init)`` returns the scan
    log-likelihood and ``pytensor.grad`` of it; ``right_probs_jac(...)`` returns the
    scan right-arm probabilities and ``pytensor.gradient.jacobian`` of them, stacked
    as an ``(n - 1, 2)`` array like ``RW.right_probs_jac``.

    The Jacobian is a scan over the rows of the backward pass through the trial scan,
    so it costs O(n^2): keep ``n`` to a few hundred trials there.
    """

    def __init__(self) -> None:
        alpha = pt.dscalar("alpha")
        beta = pt.dscalar("beta")
        actions = pt.lvector("actions")
        rewards = pt.lvector("rewards")
        q_init = pt.dscalar("q_init")
        inputs = [alpha, beta, actions, rewards, q_init]

        ll = scan_loglik(alpha, beta, actions, rewards, q_init)
        self._ll = pytensor.function(inputs, [ll, *pytensor.grad(ll, [alpha, beta])])

        p = scan_right_probs(alpha, beta, actions, rewards, q_init)
        jac = pytensor.gradient.jacobian(p, [alpha, beta])
        self._p = pytensor.function(inputs, [p, *jac])

    def loglik_grad(self, alpha, beta, actions, rewards, q_init=0.5):
        ll, g_a, g_b = self._ll(alpha, beta, actions, rewards, q_init)
        return float(ll), np.array([g_a, g_b], dtype=np.float64)

    def right_probs_jac(self, alpha, beta, actions, rewards, q_init=0.5):
        p, j_a, j_b = self._p(alpha, beta, actions, rewards, q_init)
        return np.asarray(p), np.column_stack([j_a, j_b])


@pytest.fixture(scope="session")
def scan_reference() -> ScanReference:
    """The compiled scan reference (C backend; compiles once per test session)."""
    return ScanReference()
