"""Simulated datasets of one grid cell, as a long table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from rlrecover import qlearning
from rlrecover.config import TaskSettings
from rlrecover.qlearning import Priors
from rlrecover.seeds import dataset_rng, sbc_rng

__all__ = [
    "DATA_COLUMNS",
    "check_datasets",
    "iter_datasets",
    "sbc_truth",
    "simulate_cell",
    "simulate_sbc",
]

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
        frames.append(_dataset_frame(rep, actions, rewards))
    return pd.concat(frames, ignore_index=True)[DATA_COLUMNS]


def _dataset_frame(rep: int, actions: np.ndarray, rewards: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "replicate": rep,
            "trial": np.arange(1, len(actions) + 1),
            "action": actions,
            "reward": rewards,
        }
    )


def sbc_truth(seed: int, index: int, priors: Priors) -> dict[str, float]:
    """The truth of SBC dataset ``index``: one draw from the priors.

    Parameters
    ----------
    seed : int
        Configured seed.
    index : int
        SBC index.
    priors : Priors
        The Bayesian methods' priors.

    Returns
    -------
    dict of str to float
    """
    return dict(zip(qlearning.PARAMS, priors.draw(sbc_rng(seed, index)), strict=True))


def simulate_sbc(seed: int, indices: range, task: TaskSettings, priors: Priors) -> pd.DataFrame:
    """Simulate SBC datasets: for each index a truth drawn from the priors, then its data.

    Each index has its own generator (:func:`rlrecover.seeds.sbc_rng`): it draws the
    truth (as :func:`sbc_truth`), then the dataset.

    Parameters
    ----------
    seed : int
        Configured seed.
    indices : range
        SBC indices to simulate.
    task : TaskSettings
        Trials, reward probabilities and initial Q value.
    priors : Priors
        The priors the truths are drawn from.

    Returns
    -------
    pandas.DataFrame
        Columns ``replicate, trial, action, reward``; ``replicate`` is the SBC index.
    """
    frames = []
    for i in indices:
        rng = sbc_rng(seed, i)
        truth = dict(zip(qlearning.PARAMS, priors.draw(rng), strict=True))
        actions, rewards = qlearning.simulate(
            **truth,
            n_trials=task.n_trials,
            reward_probs=task.reward_probs,
            q_init=task.q_init,
            rng=rng,
        )
        frames.append(_dataset_frame(int(i), actions, rewards))
    if not frames:
        return pd.DataFrame(columns=DATA_COLUMNS)
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


def check_datasets(
    data: pd.DataFrame, replicates: Sequence[int], n_trials: int, source: str = "the data"
) -> None:
    """Raise ``ValueError`` unless a data table holds exactly the configured datasets.

    Each replicate in ``replicates`` must be present with trials 1..``n_trials``, each
    once, and every action and reward must be 0 or 1; no other replicate may be there.
    The message names ``source``, the replicate and what is wrong, so that a damaged or
    truncated file fails its job instead of silently yielding fewer fits.

    Parameters
    ----------
    data : pandas.DataFrame
        A table read from a data file (columns ``replicate, trial, action, reward``).
    replicates : sequence of int
        The replicate numbers (SBC indices) the config says the file holds.
    n_trials : int
        Trials per dataset.
    source : str
        The file, for the message.
    """
    if list(data.columns) != DATA_COLUMNS:
        raise ValueError(f"{source}: columns {list(data.columns)}, expected {DATA_COLUMNS}")
    numbers = data.apply(pd.to_numeric, errors="coerce")
    for col in DATA_COLUMNS:
        bad = numbers[col].isna() | (numbers[col] != np.round(numbers[col]))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            where = f"line {i + 2}"
            if not pd.isna(numbers["replicate"].iloc[i]):
                where += f" (replicate {int(numbers['replicate'].iloc[i])})"
            value = data[col].iloc[i]
            what = "is missing" if pd.isna(value) else f"is {str(value)!r}, not a whole number"
            raise ValueError(f"{source}, {where}: {col} {what} (a damaged or truncated file?)")
    expected = sorted(int(r) for r in replicates)
    present = sorted(int(r) for r in numbers["replicate"].unique())
    missing = sorted(set(expected) - set(present))
    extra = sorted(set(present) - set(expected))
    if missing:
        raise ValueError(
            f"{source}: replicate {missing[0]} is missing ({len(missing)} of {len(expected)}"
            " configured replicates are; a truncated file?)"
        )
    if extra:
        raise ValueError(f"{source}: replicate {extra[0]} is not configured ({expected})")
    for rep, d in numbers.groupby("replicate", sort=True):
        trials = d["trial"].to_numpy()
        if len(trials) != n_trials or not np.array_equal(
            np.sort(trials), np.arange(1, n_trials + 1)
        ):
            raise ValueError(
                f"{source}: replicate {int(rep)} has {len(trials)} rows with trials "
                f"{int(trials.min())}..{int(trials.max())}, expected trials 1..{n_trials}"
            )
        for col in ("action", "reward"):
            bad = ~d[col].isin([0, 1])
            if bad.any():
                row = d[bad].iloc[0]
                raise ValueError(
                    f"{source}: replicate {int(rep)}, trial {int(row['trial'])}: "
                    f"{col} must be 0 or 1, got {row[col]:g}"
                )
