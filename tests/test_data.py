"""Tests of rlrecover.data: one grid cell's datasets as a long table."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import default_settings

from rlrecover.config import TaskSettings
from rlrecover.data import DATA_COLUMNS, iter_datasets, simulate_cell
from rlrecover.qlearning import simulate
from rlrecover.seeds import dataset_rng

SEED = 20261125
TASK = default_settings().task


def test_simulate_cell_layout():
    df = simulate_cell(SEED, {"alpha": 0.5, "beta": 5}, 3, TASK)
    assert list(df.columns) == DATA_COLUMNS == ["replicate", "trial", "action", "reward"]
    assert len(df) == 3 * TASK.n_trials
    assert df["replicate"].tolist() == np.repeat([0, 1, 2], TASK.n_trials).tolist()
    for _, d in df.groupby("replicate"):
        assert d["trial"].tolist() == list(range(1, TASK.n_trials + 1))
    assert set(df["action"].unique()) <= {0, 1}
    assert set(df["reward"].unique()) <= {0, 1}


def test_simulate_cell_is_deterministic_and_grid_independent():
    first = simulate_cell(SEED, {"alpha": 0.5, "beta": 5}, 3, TASK)
    # other cells of a grid simulated before and in between change nothing
    for alpha, beta in [(0.1, 1.0), (0.5, 10.0), (0.9, 5.0)]:
        simulate_cell(SEED, {"alpha": alpha, "beta": beta}, 4, TASK)
    pd.testing.assert_frame_equal(first, simulate_cell(SEED, {"alpha": 0.5, "beta": 5.0}, 3, TASK))
    # more replicates extend the table without changing the existing ones
    more = simulate_cell(SEED, {"alpha": 0.5, "beta": 5}, 5, TASK)
    pd.testing.assert_frame_equal(first, more[more["replicate"] < 3].reset_index(drop=True))
    # each replicate is exactly simulate() with its own derived generator
    for rep in range(3):
        a, r = simulate(
            0.5,
            5,
            TASK.n_trials,
            TASK.reward_probs,
            TASK.q_init,
            rng=dataset_rng(SEED, (0.5, 5), rep),
        )
        d = first[first["replicate"] == rep]
        np.testing.assert_array_equal(d["action"].to_numpy(), a)
        np.testing.assert_array_equal(d["reward"].to_numpy(), r)
    # replicates are distinct datasets
    d0, d1 = (first[first["replicate"] == k]["action"].to_numpy() for k in (0, 1))
    assert not np.array_equal(d0, d1)


def test_simulate_cell_uses_task_settings():
    task = TaskSettings(n_trials=20, reward_probs=(0.0, 1.0), q_init=0.2)
    df = simulate_cell(SEED, {"alpha": 0.4, "beta": 2.0}, 2, task)
    assert len(df) == 40
    # left never pays, right always pays
    np.testing.assert_array_equal(df["reward"].to_numpy(), df["action"].to_numpy())


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_simulate_cell_rejects_bad_replicates(bad):
    with pytest.raises(ValueError, match=rf"replicates.*got {bad}\b"):
        simulate_cell(SEED, {"alpha": 0.5, "beta": 5}, bad, TASK)


@pytest.mark.parametrize(("alpha", "beta", "text"), [(1.5, 5.0, "1.5"), (0.5, 0.0, "0.0")])
def test_simulate_cell_rejects_bad_params(alpha, beta, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        simulate_cell(SEED, {"alpha": alpha, "beta": beta}, 1, TASK)


def test_iter_datasets_round_trip():
    df = simulate_cell(
        SEED,
        {"alpha": 0.3, "beta": 3.0},
        3,
        TaskSettings(n_trials=30, reward_probs=(0.4, 0.6), q_init=0.5),
    )
    shuffled = df.sample(frac=1.0, random_state=0)
    got = list(iter_datasets(shuffled))
    assert [rep for rep, _, _ in got] == [0, 1, 2]
    for rep, actions, rewards in got:
        d = df[df["replicate"] == rep]
        assert actions.dtype == rewards.dtype == np.int64
        np.testing.assert_array_equal(actions, d["action"].to_numpy())
        np.testing.assert_array_equal(rewards, d["reward"].to_numpy())


def test_iter_datasets_missing_columns():
    with pytest.raises(ValueError, match="reward"):
        list(iter_datasets(pd.DataFrame({"replicate": [0], "trial": [1], "action": [0]})))


def test_check_datasets_accepts_what_was_simulated_and_names_each_problem():
    from rlrecover.data import check_datasets

    df = simulate_cell(SEED, {"alpha": 0.5, "beta": 5}, 3, TASK)
    check_datasets(df, range(3), TASK.n_trials, "cell.tsv")
    check_datasets(df.sample(frac=1.0, random_state=1), range(3), TASK.n_trials, "cell.tsv")
    cases = [
        (df.drop(columns="reward"), "cell.tsv: columns"),
        (df[df["replicate"] != 1], "cell.tsv: replicate 1 is missing"),
        (df.assign(replicate=df["replicate"] + 1), "cell.tsv: replicate 0 is missing"),
        (df.iloc[:-1], "cell.tsv: replicate 2 has 149 rows with trials 1..149"),
        (pd.concat([df, df.iloc[:1]]), "cell.tsv: replicate 0 has 151 rows"),
        (df.assign(reward=df["reward"].where(df.index != 5, 2)), "trial 6: reward must be 0"),
        (df.assign(action=df["action"].astype(float).where(df.index != 7, 0.5)), "line 9"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            check_datasets(bad, range(3), TASK.n_trials, "cell.tsv")
    with pytest.raises(ValueError, match=re.escape("replicate 3 is not configured")):
        check_datasets(
            pd.concat([df, df[df["replicate"] == 0].assign(replicate=3)]),
            range(3),
            TASK.n_trials,
            "cell.tsv",
        )
