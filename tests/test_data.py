"""Tests of rlrecover.data: one cell's datasets as a long table, and their checks."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import RW, default_priors, default_settings

from rlrecover import models
from rlrecover.config import TaskSettings
from rlrecover.data import (
    DATA_COLUMNS,
    check_datasets,
    data_columns,
    iter_datasets,
    sbc_truth,
    simulate_cell,
    simulate_sbc,
)
from rlrecover.seeds import dataset_rng

SEED = 20261125
TASK = default_settings().task
TRUTH = {"alpha": 0.5, "beta": 5.0}


def test_simulate_cell_layout():
    df = simulate_cell(RW, SEED, TRUTH, 3, TASK)
    assert list(df.columns) == data_columns(RW)
    assert data_columns(RW) == [*DATA_COLUMNS, "alpha_true", "beta_true"]
    assert DATA_COLUMNS == ["model", "replicate", "trial", "action", "reward"]
    assert len(df) == 3 * TASK.n_trials
    assert (df["model"] == "rw").all()
    assert (df["alpha_true"] == 0.5).all() and (df["beta_true"] == 5.0).all()
    assert df["replicate"].tolist() == np.repeat([0, 1, 2], TASK.n_trials).tolist()
    for _, d in df.groupby("replicate"):
        assert d["trial"].tolist() == list(range(1, TASK.n_trials + 1))
    assert set(df["action"].unique()) <= {0, 1}
    assert set(df["reward"].unique()) <= {0, 1}


def test_simulate_cell_is_deterministic_and_grid_independent():
    first = simulate_cell(RW, SEED, TRUTH, 3, TASK)
    # other cells of a grid simulated before and in between change nothing
    for alpha, beta in [(0.1, 1.0), (0.5, 10.0), (0.9, 5.0)]:
        simulate_cell(RW, SEED, {"alpha": alpha, "beta": beta}, 4, TASK)
    pd.testing.assert_frame_equal(
        first, simulate_cell(RW, SEED, {"alpha": 0.5, "beta": 5}, 3, TASK)
    )
    # more replicates extend the table without changing the existing ones
    more = simulate_cell(RW, SEED, TRUTH, 5, TASK)
    pd.testing.assert_frame_equal(first, more[more["replicate"] < 3].reset_index(drop=True))
    # each replicate is exactly the model's simulation with its own derived generator
    for rep in range(3):
        a, r = RW.simulate(
            TRUTH,
            TASK.n_trials,
            dataset_rng(SEED, (), (0.5, 5), rep),
            reward_probs=TASK.reward_probs,
            consts=TASK.consts,
        )
        d = first[first["replicate"] == rep]
        np.testing.assert_array_equal(d["action"].to_numpy(), a)
        np.testing.assert_array_equal(d["reward"].to_numpy(), r)
    # replicates are distinct datasets
    d0, d1 = (first[first["replicate"] == k]["action"].to_numpy() for k in (0, 1))
    assert not np.array_equal(d0, d1)


def test_two_models_with_the_same_values_never_share_a_stream():
    # rw2 with alpha_pos == alpha_neg is rw; its datasets still differ from rw's.
    rw2 = models.get("rw2")
    truth2 = {"alpha_pos": 0.5, "alpha_neg": 0.5, "beta": 5.0}
    a = simulate_cell(RW, SEED, TRUTH, 2, TASK)
    b = simulate_cell(rw2, SEED, truth2, 2, TASK)
    assert not np.array_equal(a["action"].to_numpy(), b["action"].to_numpy())


@pytest.mark.parametrize("name", models.names())
def test_every_model_simulates_and_round_trips(name):
    model = models.get(name)
    truth = {p.name: (0.3 if p.kind == "unit" else 4.0) for p in model.params}
    df = simulate_cell(model, SEED, truth, 2, TASK)
    assert list(df.columns) == data_columns(model)
    check_datasets(df, model, range(2), TASK.n_trials, "cell.tsv", {0: truth, 1: truth})
    sbc = simulate_sbc(model, SEED, range(3, 5), TASK, default_priors(model))
    truths = {i: sbc_truth(model, SEED, i, default_priors(model)) for i in (3, 4)}
    check_datasets(sbc, model, range(3, 5), TASK.n_trials, "batch.tsv", truths)
    for i in (3, 4):
        row = sbc[sbc["replicate"] == i].iloc[0]
        assert {p: row[f"{p}_true"] for p in model.param_names} == truths[i]


def test_simulate_cell_uses_task_settings():
    task = TaskSettings(n_trials=20, reward_probs=(0.0, 1.0), q_init=0.2)
    df = simulate_cell(RW, SEED, {"alpha": 0.4, "beta": 2.0}, 2, task)
    assert len(df) == 40
    # left never pays, right always pays
    np.testing.assert_array_equal(df["reward"].to_numpy(), df["action"].to_numpy())


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_simulate_cell_rejects_bad_replicates(bad):
    with pytest.raises(ValueError, match=rf"replicates.*got {bad}\b"):
        simulate_cell(RW, SEED, TRUTH, bad, TASK)


@pytest.mark.parametrize(("alpha", "beta", "text"), [(1.5, 5.0, "1.5"), (0.5, 0.0, "0.0")])
def test_simulate_cell_rejects_bad_params(alpha, beta, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        simulate_cell(RW, SEED, {"alpha": alpha, "beta": beta}, 1, TASK)


def test_simulate_cell_rejects_another_models_parameters():
    with pytest.raises(ValueError, match=re.escape("model rw takes ['alpha', 'beta']")):
        simulate_cell(RW, SEED, {"alpha_c": 0.5, "beta_c": 1.0}, 1, TASK)


def test_iter_datasets_round_trip():
    df = simulate_cell(
        RW,
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
    df = simulate_cell(RW, SEED, TRUTH, 3, TASK)
    truths = dict.fromkeys(range(3), TRUTH)
    check_datasets(df, RW, range(3), TASK.n_trials, "cell.tsv", truths)
    check_datasets(df.sample(frac=1.0, random_state=1), RW, range(3), TASK.n_trials, "cell.tsv")
    cases = [
        (df.drop(columns="reward"), "cell.tsv: columns"),
        (df[df["replicate"] != 1], "cell.tsv: replicate 1 is missing"),
        (df.assign(replicate=df["replicate"] + 1), "cell.tsv: replicate 0 is missing"),
        (df.iloc[:-1], "cell.tsv: replicate 2 has 149 rows with trials 1..149"),
        (pd.concat([df, df.iloc[:1]]), "cell.tsv: replicate 0 has 151 rows"),
        (df.assign(reward=df["reward"].where(df.index != 5, 2)), "trial 6: reward must be 0"),
        (df.assign(action=df["action"].astype(float).where(df.index != 7, 0.5)), "line 9"),
        (df.assign(model="ck"), "cell.tsv, line 2: model is 'ck', expected 'rw'"),
        (
            df.assign(beta_true=df["beta_true"].where(df.index != 3, 6.0)),
            "cell.tsv: replicate 0: beta_true is 6, the config says 5",
        ),
        (
            df.assign(alpha_true=df["alpha_true"].astype(object).where(df.index != 4, "x")),
            "cell.tsv, line 6: alpha_true is 'x', not a number",
        ),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            check_datasets(bad, RW, range(3), TASK.n_trials, "cell.tsv", truths)
    with pytest.raises(ValueError, match=re.escape("replicate 3 is not configured")):
        check_datasets(
            pd.concat([df, df[df["replicate"] == 0].assign(replicate=3)]),
            RW,
            range(3),
            TASK.n_trials,
            "cell.tsv",
        )
