"""Simulated datasets of one grid cell, as a long table."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from rlrecover import qlearning
from rlrecover.config import TaskSettings
from rlrecover.seeds import dataset_rng

__all__ = ["DATA_COLUMNS", "iter_datasets", "simulate_cell"]

DATA_COLUMNS = ["replicate", "trial", "action", "reward"]


def simulate_cell(
    seed: int, truth: Mapping[str, float], replicates: int, task: TaskSettings
) -> pd.DataFrame:
    """Simulate every replicate of one grid cell.

    Each replicate has its own generator derived from (seed, cell, replicate) by
    :func:`rlrecover.seeds.dataset_rng`, so a dataset never depends on the grid.

    Parameters
    ----------
    seed : int
        Configured seed.
    truth : mapping of str to float
        True value of each model parameter (the cell), in the model's order.
    replicates : int
        Number of datasets, >= 1.
    task : TaskSettings
        Trials, reward probabilities and initial Q value.

    Returns
    -------
    pandas.DataFrame
        Columns ``replicate, trial, action, reward`` (trial counts from 1; action
        0 = left, 1 = right).
    """
    if int(replicates) != replicates or replicates < 1:
        raise ValueError(f"replicates must be an integer >= 1, got {replicates!r}")
    frames = []
    for rep in range(int(replicates)):
        actions, rewards = qlearning.simulate(
            **truth,
            n_trials=task.n_trials,
            reward_probs=task.reward_probs,
            q_init=task.q_init,
            rng=dataset_rng(seed, list(truth.values()), rep),
        )
        frames.append(
            pd.DataFrame(
                {
                    "replicate": rep,
                    "trial": np.arange(1, task.n_trials + 1),
                    "action": actions,
                    "reward": rewards,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[DATA_COLUMNS]


def iter_datasets(data: pd.DataFrame):
    """Yield ``(replicate, actions, rewards)`` for each replicate of a cell table.

    Parameters
    ----------
    data : pandas.DataFrame
        A table with columns ``replicate, trial, action, reward``.

    Yields
    ------
    tuple of (int, numpy.ndarray, numpy.ndarray)
    """
    missing = [c for c in DATA_COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"dataset table lacks columns {missing}")
    for rep, d in data.sort_values(["replicate", "trial"]).groupby("replicate", sort=True):
        yield (
            int(rep),
            d["action"].to_numpy(dtype=np.int64),
            d["reward"].to_numpy(dtype=np.int64),
        )
