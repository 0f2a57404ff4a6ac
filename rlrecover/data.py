"""Simulated datasets of one grid cell or SBC batch, as a long table, and their checks.

A data table has one row per trial: ``model, replicate, trial, action, reward`` and the
truth it was simulated from as ``{param}_true`` columns (the same on every row of a
cell; one truth per replicate in an SBC batch), so that each file says what it holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from rlrecover.config import TaskSettings
from rlrecover.models.base import Model, Priors
from rlrecover.seeds import dataset_rng, sbc_rng

__all__ = [
    "DATA_COLUMNS",
    "check_datasets",
    "data_columns",
    "iter_datasets",
    "sbc_truth",
    "simulate_cell",
    "simulate_sbc",
]

#: The columns every data table starts with.
DATA_COLUMNS = ["model", "replicate", "trial", "action", "reward"]
_TRIAL_COLUMNS = DATA_COLUMNS[1:]


def data_columns(model: Model) -> list[str]:
    """The columns of a data table of ``model``: :data:`DATA_COLUMNS` and the truths."""
    return DATA_COLUMNS + [f"{p}_true" for p in model.param_names]


def simulate_cell(
    model: Model, seed: int, truth: Mapping[str, float], replicates: int, task: TaskSettings
) -> pd.DataFrame:
    """Simulate every replicate of one grid cell.

    Each replicate has its own generator derived from (seed, model, cell, replicate) by
    :func:`rlrecover.seeds.dataset_rng`, so a dataset never depends on the grid.

    Parameters
    ----------
    model : Model
        The learning model.
    seed : int
        Configured seed.
    truth : mapping of str to float
        True value of each model parameter (the cell).
    replicates : int
        Number of datasets, >= 1.
    task : TaskSettings
        Trials, reward probabilities and the model's constants.

    Returns
    -------
    pandas.DataFrame
        Columns :func:`data_columns` (trial counts from 1; action 0 = left, 1 = right).
    """
    if int(replicates) != replicates or replicates < 1:
        raise ValueError(f"replicates must be an integer >= 1, got {replicates!r}")
    values = model.check_theta(truth)
    truth = dict(zip(model.param_names, values, strict=True))
    frames = []
    for rep in range(int(replicates)):
        actions, rewards = model.simulate(
            truth,
            task.n_trials,
            dataset_rng(seed, model.stream_parts(), values, rep),
            reward_probs=task.reward_probs,
            consts=task.consts,
        )
        frames.append(_dataset_frame(model, rep, truth, actions, rewards))
    return pd.concat(frames, ignore_index=True)[data_columns(model)]


def _dataset_frame(
    model: Model, rep: int, truth: Mapping[str, float], actions: np.ndarray, rewards: np.ndarray
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "model": model.name,
            "replicate": rep,
            "trial": np.arange(1, len(actions) + 1),
            "action": actions,
            "reward": rewards,
        }
    )
    for p in model.param_names:
        frame[f"{p}_true"] = float(truth[p])
    return frame


def sbc_truth(model: Model, seed: int, index: int, priors: Priors) -> dict[str, float]:
    """The truth of SBC dataset ``index``: one draw from the priors.

    Parameters
    ----------
    model : Model
        The learning model.
    seed : int
        Configured seed.
    index : int
        SBC index.
    priors : Priors
        The model's priors.

    Returns
    -------
    dict of str to float
    """
    return priors.draw(sbc_rng(seed, model.stream_parts(), index))


def simulate_sbc(
    model: Model, seed: int, indices: range, task: TaskSettings, priors: Priors
) -> pd.DataFrame:
    """Simulate SBC datasets: for each index a truth drawn from the priors, then its data.

    Each index has its own generator (:func:`rlrecover.seeds.sbc_rng`): it draws the
    truth (as :func:`sbc_truth`), then the dataset.

    Parameters
    ----------
    model : Model
        The learning model.
    seed : int
        Configured seed.
    indices : range
        SBC indices to simulate.
    task : TaskSettings
        Trials, reward probabilities and the model's constants.
    priors : Priors
        The priors the truths are drawn from.

    Returns
    -------
    pandas.DataFrame
        Columns :func:`data_columns`; ``replicate`` is the SBC index.
    """
    frames = []
    for i in indices:
        rng = sbc_rng(seed, model.stream_parts(), i)
        truth = priors.draw(rng)
        actions, rewards = model.simulate(
            truth, task.n_trials, rng, reward_probs=task.reward_probs, consts=task.consts
        )
        frames.append(_dataset_frame(model, int(i), truth, actions, rewards))
    if not frames:
        return pd.DataFrame(columns=data_columns(model))
    return pd.concat(frames, ignore_index=True)[data_columns(model)]


def iter_datasets(data: pd.DataFrame):
    """Yield ``(replicate, actions, rewards)`` for each replicate of a cell table.

    Parameters
    ----------
    data : pandas.DataFrame
        A table with (at least) the columns ``replicate, trial, action, reward``.

    Yields
    ------
    tuple of (int, numpy.ndarray, numpy.ndarray)
    """
    missing = [c for c in _TRIAL_COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"dataset table lacks columns {missing}")
    for rep, d in data.sort_values(["replicate", "trial"]).groupby("replicate", sort=True):
        yield (
            int(rep),
            d["action"].to_numpy(dtype=np.int64),
            d["reward"].to_numpy(dtype=np.int64),
        )


def check_datasets(
    data: pd.DataFrame,
    model: Model,
    replicates: Sequence[int],
    n_trials: int,
    source: str = "the data",
    truths: Mapping[int, Mapping[str, float]] | None = None,
) -> None:
    """Raise ``ValueError`` unless a data table holds exactly the configured datasets.

    The columns must be those of ``model`` (:func:`data_columns`) and its name in the
    ``model`` column; each replicate in ``replicates`` must be present with trials
    1..``n_trials``, each once, and every action and reward must be 0 or 1; no other
    replicate may be there; and, with ``truths``, each replicate's ``{param}_true``
    values must be those the config asks for. The message names ``source``, the
    replicate and what is wrong, so that a damaged or truncated file fails its job
    instead of silently yielding fewer fits.

    Parameters
    ----------
    data : pandas.DataFrame
        A table read from a data file.
    model : Model
        The model the file should hold datasets of.
    replicates : sequence of int
        The replicate numbers (SBC indices) the config says the file holds.
    n_trials : int
        Trials per dataset.
    source : str
        The file, for the message.
    truths : mapping of int to mapping, optional
        The expected truth of each replicate.
    """
    expected_columns = data_columns(model)
    if list(data.columns) != expected_columns:
        raise ValueError(f"{source}: columns {list(data.columns)}, expected {expected_columns}")
    numbers = data[_TRIAL_COLUMNS].apply(pd.to_numeric, errors="coerce")
    for col in _TRIAL_COLUMNS:
        bad = numbers[col].isna() | (numbers[col] != np.round(numbers[col]))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            where = f"line {i + 2}"
            if not pd.isna(numbers["replicate"].iloc[i]):
                where += f" (replicate {int(numbers['replicate'].iloc[i])})"
            value = data[col].iloc[i]
            what = "is missing" if pd.isna(value) else f"is {str(value)!r}, not a whole number"
            raise ValueError(f"{source}, {where}: {col} {what} (a damaged or truncated file?)")
    names = data["model"].astype(str)
    if (names != model.name).any():
        i = int(np.flatnonzero((names != model.name).to_numpy())[0])
        raise ValueError(
            f"{source}, line {i + 2}: model is {data['model'].iloc[i]!r}, expected {model.name!r}"
        )
    truth_cols = [f"{p}_true" for p in model.param_names]
    true_values = data[truth_cols].apply(pd.to_numeric, errors="coerce")
    bad = ~np.isfinite(true_values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        raise ValueError(
            f"{source}, line {i + 2}: {truth_cols[j]} is {data[truth_cols[j]].iloc[i]!r}, "
            "not a number (a damaged or truncated file?)"
        )
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
    numbers = pd.concat([numbers, true_values], axis=1)
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
        want = truths.get(int(rep)) if truths is not None else None
        for col in truth_cols:
            values = d[col].to_numpy(dtype=float)
            first = values[0]
            target = first if want is None else float(want[col[: -len("_true")]])
            if not np.all(values == target):
                odd = values[values != target][0]
                raise ValueError(
                    f"{source}: replicate {int(rep)}: {col} is {odd:g}, the config says {target:g}"
                )
