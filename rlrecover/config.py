"""Typed settings built from the (already schema-validated) workflow config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MLESettings", "Priors", "SamplerSettings", "Settings", "TaskSettings"]


@dataclass(frozen=True)
class TaskSettings:
    """The bandit task: number of trials, reward probabilities, initial Q value."""

    n_trials: int = 150
    reward_probs: tuple[float, float] = (0.4, 0.6)
    q_init: float = 0.5


@dataclass(frozen=True)
class Priors:
    """alpha ~ Beta(alpha_a, alpha_b); beta ~ HalfNormal(beta_sigma)."""

    alpha_a: float = 1.0
    alpha_b: float = 1.0
    beta_sigma: float = 10.0


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings shared by both PyMC models.

    ``backend`` is ``"nutpie"`` (compiled once per process, data swapped per
    dataset) or ``"pymc"`` (``pm.sample``'s own NUTS).
    """

    backend: str = "nutpie"
    chains: int = 4
    tune: int = 1000
    draws: int = 1000
    target_accept: float = 0.8


@dataclass(frozen=True)
class MLESettings:
    """Maximum-likelihood settings: random starts and the scipy method."""

    n_starts: int = 5
    method: str = "L-BFGS-B"


@dataclass(frozen=True)
class Settings:
    """Everything a simulation or fitting job needs, as plain values."""

    seed: int = 20261125
    task: TaskSettings = TaskSettings()
    priors: Priors = Priors()
    sampler: SamplerSettings = SamplerSettings()
    mle: MLESettings = MLESettings()
    coverage_levels: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Build settings from a config mapping validated against the JSON schema.

        Parameters
        ----------
        config : mapping
            The workflow config (``config.yaml`` after validation with defaults).

        Returns
        -------
        Settings
        """
        task = config.get("task", {})
        priors = config.get("priors", {})
        sampler = config.get("sampler", {})
        mle = config.get("mle", {})
        d = cls()
        return cls(
            seed=int(config.get("seed", d.seed)),
            task=TaskSettings(
                n_trials=int(task.get("n_trials", d.task.n_trials)),
                reward_probs=tuple(
                    float(p) for p in task.get("reward_probs", d.task.reward_probs)
                ),
                q_init=float(task.get("q_init", d.task.q_init)),
            ),
            priors=Priors(
                alpha_a=float(priors.get("alpha", {}).get("a", d.priors.alpha_a)),
                alpha_b=float(priors.get("alpha", {}).get("b", d.priors.alpha_b)),
                beta_sigma=float(priors.get("beta", {}).get("sigma", d.priors.beta_sigma)),
            ),
            sampler=SamplerSettings(
                backend=str(sampler.get("backend", d.sampler.backend)),
                chains=int(sampler.get("chains", d.sampler.chains)),
                tune=int(sampler.get("tune", d.sampler.tune)),
                draws=int(sampler.get("draws", d.sampler.draws)),
                target_accept=float(sampler.get("target_accept", d.sampler.target_accept)),
            ),
            mle=MLESettings(
                n_starts=int(mle.get("n_starts", d.mle.n_starts)),
                method=str(mle.get("method", d.mle.method)),
            ),
            coverage_levels=tuple(
                float(x) for x in config.get("coverage_levels", d.coverage_levels)
            ),
        )
