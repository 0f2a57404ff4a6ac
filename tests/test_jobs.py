"""rlrecover.run.jobs: the fit jobs as plain functions, and their scoped BLAS thread limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import RW, job_config
from threadpoolctl import threadpool_info

from rlrecover import models
from rlrecover.config import TaskSettings
from rlrecover.data import simulate_cell
from rlrecover.run import jobs
from rlrecover.summary import read_recovery, summary_columns, union_columns

MLE_SECTIONS = ("seed", "task", "mle", "coverage_levels")
TRUTH = {"alpha": 0.4, "beta": 3.0}
UNIT = {"truth": TRUTH, "replicates": 3}


def fit_config(sections=MLE_SECTIONS, model="rw", **overrides):
    """The sections of a job of ``model``, as common.smk's config_subset gives them."""
    cfg = job_config(model, task={"n_trials": 30}, coverage_levels=[0.5, 0.9], **overrides)
    return {"model": model, **{k: cfg[k] for k in sections}}


@pytest.fixture
def data_file(tmp_path):
    cfg = fit_config()
    data = simulate_cell(RW, cfg["seed"], TRUTH, 3, TaskSettings.from_config(cfg["task"]))
    path = tmp_path / "data.tsv"
    data.to_csv(path, sep="\t", index=False)
    return path


def test_fit_job_writes_one_table_per_method_and_logs_each_dataset(tmp_path, data_file):
    out = tmp_path / "mle.tsv"
    log = tmp_path / "fit.log"
    jobs.fit_mle_job(data_file, out, fit_config(), UNIT, log)
    table = read_recovery(out)
    assert list(table.columns) == summary_columns(RW.param_names, [0.5, 0.9])
    assert list(table["replicate"]) == [0, 1, 2]
    # replicate 0 stops at the beta bound with SE(log beta) 22.8 > 13.8: flagged on purpose
    assert list(table["status"]) == ["unusable_se", "ok", "ok"]
    assert (table["cell"] == "alpha~0.4/beta~3").all()
    text = log.read_text()
    assert "fitting 3 datasets of rw at alpha=0.4, beta=3.0 with mle" in text
    for rep in range(3):
        assert f"mle alpha~0.4/beta~3 replicate {rep}: " in text
    assert f"wrote 3 rows to {out}" in text


def test_fit_job_logs_the_traceback_and_raises(tmp_path):
    log = tmp_path / "fit.log"
    missing = tmp_path / "no-such-data.tsv"
    with pytest.raises(FileNotFoundError):
        jobs.fit_mle_job(missing, tmp_path / "mle.tsv", fit_config(), UNIT, log)
    text = log.read_text()
    assert "Traceback" in text and "no-such-data.tsv" in text
    assert not (tmp_path / "mle.tsv").exists()


_OVERLAPPING_JOBS = """
import json, threading
import scipy.linalg  # loads the BLAS libraries
from threadpoolctl import threadpool_info
from rlrecover.run import jobs

def blas():
    return {d["filepath"]: d["num_threads"] for d in threadpool_info()}

before = blas()
inside = [threading.Event(), threading.Event()]
leave = [threading.Event(), threading.Event()]
seen = {}

def job(i):
    with jobs.single_thread_blas():
        seen[f"in {i}"] = blas()
        inside[i].set()
        leave[i].wait(10)
    seen[f"after {i}"] = blas()

threads = [threading.Thread(target=job, args=(i,)) for i in (0, 1)]
threads[0].start(); inside[0].wait(10)
threads[1].start(); inside[1].wait(10)
leave[0].set(); threads[0].join(10)  # the first job leaves while the second runs
leave[1].set(); threads[1].join(10)
print(json.dumps({"before": before, "end": blas(), **seen}))
"""


_ONE_BLAS_THREAD = """
import json
import numpy  # NumPy's OpenBLAS only: SciPy's is not loaded yet
from threadpoolctl import threadpool_info
from rlrecover.run import jobs

def blas():
    return {d["filepath"]: d["num_threads"] for d in threadpool_info()}

before = blas()
jobs.one_blas_thread()
print(json.dumps({"before": before, "after": blas()}))
"""


_IMPORT_FOR_GOOD = """
import gc, json, sys
from rlrecover.run import jobs

collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(1))
assert "scipy.stats" not in sys.modules
enabled = sys.argv[1] == "enabled"
if not enabled:
    gc.disable()
if sys.argv[2] == "plain":
    import scipy.stats
else:
    jobs.import_for_good("scipy.stats")
print(json.dumps({
    "collections": len(collections), "enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(), "imported": "scipy.stats" in sys.modules,
}))
"""


def _import_for_good(*args):
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_FOR_GOOD, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_for_good_imports_without_collections_and_freezes_what_exists():
    plain = _import_for_good("enabled", "plain")
    assert plain["collections"] > 0 and plain["frozen"] == 0  # SciPy's import collects
    done = _import_for_good("enabled", "for good")
    assert done == {"collections": 0, "enabled": True, "frozen": done["frozen"], "imported": True}
    assert done["frozen"] > plain["collections"] * 700  # every object, not a generation
    # a process whose collector was off keeps it off
    assert _import_for_good("disabled", "for good")["enabled"] is False


def test_one_blas_thread_limits_numpys_and_scipys_pools_for_good():
    # As in the onstart hook of a threaded run: the main thread of a fresh process
    # that has loaded NumPy but not SciPy, whose own OpenBLAS the MLE fits use.
    proc = subprocess.run(
        [sys.executable, "-c", _ONE_BLAS_THREAD], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    if not seen["after"]:
        pytest.skip("no BLAS or OpenMP pool to limit")
    assert set(seen["after"].values()) == {1}, seen
    # SciPy's pool was loaded by the call, so it is limited although it came later
    assert len(seen["after"]) >= len(seen["before"]), seen


@pytest.mark.skipif(not threadpool_info(), reason="no BLAS or OpenMP pool to limit")
def test_single_thread_blas_is_counted_and_restores_the_pools():
    # As in Snakemake's threaded mode: a fresh process whose fit jobs run in worker
    # threads and overlap. (A fresh process, because OpenBLAS ignores a size set from
    # a worker thread once the main thread has set one, as other tests here do.)
    proc = subprocess.run(
        [sys.executable, "-c", _OVERLAPPING_JOBS], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    if max(seen["before"].values(), default=1) == 1:
        pytest.skip("the BLAS pools have one thread already: nothing to limit")
    assert set(seen["in 0"].values()) == set(seen["in 1"].values()) == {1}, seen
    assert set(seen["after 0"].values()) == {1}, "the limit must hold while a job runs"
    assert seen["after 1"] == seen["end"] == seen["before"], seen


def test_fit_job_output_matches_fit_cell(tmp_path, data_file):
    from conftest import default_settings

    from rlrecover.fitting import fit_cell

    out = tmp_path / "mle.tsv"
    jobs.fit_mle_job(data_file, out, fit_config(), UNIT, tmp_path / "fit.log")
    settings = default_settings(task={"n_trials": 30}, coverage_levels=[0.5, 0.9])
    direct = fit_cell("mle", pd.read_csv(data_file, sep="\t"), TRUTH, settings, lambda _: None)
    cols = ["alpha_est", "beta_est", "nll", "alpha_lower_90", "beta_upper_90"]
    pd.testing.assert_frame_equal(
        read_recovery(out)[cols].reset_index(drop=True), direct[cols].astype(float)
    )


def test_summary_jobs_chain_from_fit_tables_to_the_report(tmp_path):
    # simulate -> fit (MLE) -> aggregate -> tables -> plots -> report, as the rules do,
    # with two models of different sizes and SBC datasets beside the grid.
    from rlrecover.report.layout import SBC_FIGURES, SBC_TABLES, figure_names, table_names

    bias = models.get("bias")
    cells = [("rw", {"alpha": 0.4, "beta": beta}) for beta in (2.0, 6.0)]
    cells += [("bias", {"b": b}) for b in (0.3, 0.7)]
    fits = []
    for name, truth in cells:
        label = "_".join(f"{v:g}" for v in truth.values())
        sim_cfg = {"seed": 4, "model": name, "task": fit_config()["task"], "replicates": 3}
        data = tmp_path / f"data_{name}_{label}.tsv"
        jobs.simulate_job(data, sim_cfg, truth, tmp_path / f"sim_{label}.log")
        assert len(pd.read_csv(data, sep="\t")) == 3 * 30
        out = tmp_path / f"fit_{name}_{label}.tsv"
        unit = {"truth": truth, "replicates": 3}
        jobs.fit_mle_job(data, out, fit_config(model=name), unit, tmp_path / f"fit_{label}.log")
        fits.append(out)
    recovery = tmp_path / "recovery.tsv"
    jobs.aggregate_job(fits, recovery, tmp_path / "aggregate.log")
    # The union of the models' columns; each row's values copied as text.
    stacked = read_recovery(recovery)
    assert list(stacked.columns) == union_columns([["alpha", "beta"], ["b"]], [0.5, 0.9])
    assert stacked["model"].tolist() == ["rw"] * 6 + ["bias"] * 6
    assert stacked.loc[stacked["model"] == "rw", "b_est"].isna().all()
    # each field of a model's row is its fit table's text, in the union's column
    union = recovery.read_text().splitlines()
    header = union[0].split("\t")
    stacked_rows = [line.split("\t") for line in union[1:]]
    fit_rows = []
    for f in fits:
        own_header, *lines = f.read_text().splitlines()
        fit_rows += [
            dict(zip(own_header.split("\t"), ln.split("\t"), strict=True)) for ln in lines
        ]
    for fields, want in zip(stacked_rows, fit_rows, strict=True):
        got = dict(zip(header, fields, strict=True))
        assert {c: got[c] for c in want} == want
        assert all(got[c] == "" for c in header if c not in want)
    for name, record in (("rw", RW), ("bias", bias)):
        own = jobs.model_recovery(recovery, record)
        direct = pd.concat(
            [read_recovery(f) for f, (m, _) in zip(fits, cells, strict=True) if m == name],
            ignore_index=True,
        )
        pd.testing.assert_frame_equal(own, direct)

    sbc_data, sbc_fit = tmp_path / "sbc_data.tsv", tmp_path / "sbc_fit.tsv"
    sbc_cfg = fit_config(("seed", "task", "priors"))
    jobs.sbc_simulate_job(sbc_data, sbc_cfg, (0, 5), tmp_path / "sbc_sim.log")
    assert sorted(pd.read_csv(sbc_data, sep="\t")["replicate"].unique()) == list(range(5))
    sbc_mle_cfg = fit_config((*MLE_SECTIONS, "priors"))
    jobs.fit_mle_job(sbc_data, sbc_fit, sbc_mle_cfg, {"sbc": (0, 5)}, tmp_path / "sbc_fit.log")
    sbc_rows = read_recovery(sbc_fit)
    assert (sbc_rows["cell"] == "sbc").all() and len(sbc_rows) == 5

    parts = {}
    for name, record in (("rw", RW), ("bias", bias)):
        names = table_names(record, "grid")
        tables = {n: tmp_path / f"{name}_{n}.tsv" for n in names}
        design = {
            "min_correlation": 0.8,
            "rmse_target": {p.name: 0.1 if p.kind == "unit" else 0.25 for p in record.params},
        }
        jobs.tables_job(
            recovery, tables, name, "grid", [0.5, 0.9], design, tmp_path / f"{name}_tables.log"
        )
        coverage = pd.read_csv(tables["coverage"], sep="\t")
        assert set(coverage["level"]) == {0.5, 0.9} and set(coverage["method"]) == {"mle"}
        assert set(coverage["parameter"]) == set(record.param_names)
        exact_table, exact_plot = tmp_path / f"{name}_exact.tsv", tmp_path / f"{name}_exact.png"
        jobs.exact_table_job([], exact_table, exact_plot, name, tmp_path / "exact.log")
        assert list(pd.read_csv(exact_table, sep="\t").columns) == jobs.EXACT_COLUMNS
        plots = {n: tmp_path / f"{name}_{n}.png" for n in figure_names(record, "grid")}
        inputs = {"recovery": recovery} | tables
        jobs.plots_job(inputs, plots, name, "grid", tmp_path / f"{name}_plots.log")
        tables["exact_check"] = exact_table
        images = plots | {"exact_check": exact_plot}
        parts[name] = (tables, images)
    assert len(parts["bias"][1]) == 5 and "map_rmse" in parts["rw"][1]

    sbc_tables = {n: tmp_path / f"{n}.tsv" for n in SBC_TABLES}
    jobs.sbc_tables_job(sbc_fit, sbc_tables, "rw", tmp_path / "sbc_tables.log")
    assert set(pd.read_csv(sbc_tables["sbc"], sep="\t")["parameter"]) == {"alpha", "beta"}
    sbc_plots = {n: tmp_path / f"{n}.png" for n in SBC_FIGURES}
    jobs.sbc_plots_job(
        {"recovery": sbc_fit, "coverage_curve": sbc_tables["sbc_coverage_curve"]},
        sbc_plots,
        "rw",
        tmp_path / "sbc_plots.log",
    )
    parts["rw"][0].update(sbc_tables)
    parts["rw"][1].update(sbc_plots)
    for _, images in parts.values():
        for path in images.values():
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path

    summary = tmp_path / "summary.tsv"
    summary_inputs = {
        f"{m}__{n}": parts[m][0][n]
        for m in ("rw", "bias")
        for n in ("recovery_metrics", "coverage", "design", "exact_check")
    } | {"rw__sbc": sbc_tables["sbc"]}
    jobs.summary_table_job(summary_inputs, summary, tmp_path / "summary.log")
    headline = pd.read_csv(summary, sep="\t")
    assert headline[["model", "parameter"]].drop_duplicates().values.tolist() == [
        ["rw", "alpha"],
        ["rw", "beta"],
        ["bias", "b"],
    ]

    report = tmp_path / "report.html"
    report_tables = {
        "recovery": recovery,
        "summary": summary,
        "models": {m: tables for m, (tables, _) in parts.items()},
    }
    images = {m: imgs for m, (_, imgs) in parts.items()}
    config = {"seed": 4, "models": {"rw": {"grid": {}}, "bias": {"grid": {}}}}
    jobs.report_job(report, report_tables, images, config, tmp_path / "report.log")
    html = report.read_text()
    # Every figure but the exact checks', which have no fit to show (MLE only): a note.
    n_images = sum(len(imgs) for imgs in images.values())
    assert html.count("data:image/png;base64,") == n_images - 2
    assert html.count("No fit was checked against a reference posterior") == 2
    assert 'id="model-rw"' in html and 'id="model-bias"' in html
    assert 'href="#model-bias"' in html  # the headline links to the model's details
    assert "was made for this run" not in html
    log = (tmp_path / "report.log").read_text()
    assert f"wrote {report}" in log and "pymc " in log  # the versions are logged


def test_aggregate_job_stacks_the_union_of_the_models_columns_as_text(tmp_path):
    from rlrecover.summary import empty_row

    rows_rw = [empty_row("rw", [0.9], "mle", {"alpha": 0.5, "beta": 2.0}, 0, 10)]
    rows_ck = [
        empty_row("rw2", [0.9], "mle", {"alpha_pos": 0.25, "alpha_neg": 0.5, "beta": 1.0}, 0, 10)
    ]
    rows_rw[0]["alpha_est"] = 0.1234567890123456789
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    pd.DataFrame(rows_rw).to_csv(a, sep="\t", index=False)
    pd.DataFrame(rows_ck).to_csv(b, sep="\t", index=False)
    out = tmp_path / "recovery.tsv"
    jobs.aggregate_job([a, b], out, tmp_path / "aggregate.log")
    header, first, second = out.read_text().splitlines()
    columns = header.split("\t")
    # rw2's pairs are its own: corr_alpha_pos_beta, not the union's corr_beta_alpha_pos
    corr = ["corr_alpha_beta", "corr_alpha_pos_alpha_neg", "corr_alpha_pos_beta"]
    corr.append("corr_alpha_neg_beta")
    assert columns == summary_columns(["alpha", "beta", "alpha_pos", "alpha_neg"], [0.9], corr)
    assert first.split("\t")[columns.index("alpha_est")] == "0.12345678901234568"
    assert second.split("\t")[columns.index("alpha_est")] == ""
    assert second.split("\t")[columns.index("alpha_pos_true")] == "0.25"
    table = read_recovery(out)
    rw2 = jobs.model_recovery(out, models.get("rw2"))
    assert list(rw2.columns) == summary_columns(models.get("rw2").param_names, [0.9])
    assert len(table) == 2 and rw2["alpha_neg_true"].tolist() == [0.5]


def test_aggregate_job_names_a_table_with_other_columns(tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    header = "\t".join(summary_columns(["b"], [0.9]))
    row = "\t".join(["x"] * len(summary_columns(["b"], [0.9])))
    a.write_text(f"{header}\n{row}\n")
    b.write_text("model\tmethod\tother\nbias\tmle\ty\n")
    log = tmp_path / "aggregate.log"
    with pytest.raises(ValueError, match=r"b\.tsv has columns \['model', 'method', 'other'\]"):
        jobs.aggregate_job([a, b], tmp_path / "recovery.tsv", log)
    assert "Traceback" in log.read_text()


def test_aggregate_job_names_the_row_of_a_damaged_table(tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    columns = summary_columns(["b"], [0.9])
    header, row = "\t".join(columns), "\t".join(["x"] * len(columns))
    a.write_text(f"{header}\n{row}\n")
    b.write_text(f"{header}\n{row}\nbias\n")  # cut short while written
    log = tmp_path / "aggregate.log"
    with pytest.raises(ValueError, match=rf"b\.tsv, row 2: 1 fields, expected {len(columns)}"):
        jobs.aggregate_job([a, b], tmp_path / "recovery.tsv", log)
    assert not (tmp_path / "recovery.tsv").exists()


def test_aggregate_job_copies_quoted_fields_as_pandas_wrote_them(tmp_path):
    # an error message with a tab and a line break, as a failed fit may have
    from rlrecover.summary import empty_row

    rows = [empty_row("bias", [0.9], m, {"b": 0.5}, 0, 10) for m in ("mle", "pymc_potential")]
    rows[0]["error"] = "a\tb\nc"
    frame = pd.DataFrame(rows)
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    frame.to_csv(a, sep="\t", index=False)
    frame.iloc[::-1].to_csv(b, sep="\t", index=False)
    out = tmp_path / "recovery.tsv"
    jobs.aggregate_job([a, b], out, tmp_path / "aggregate.log")
    stacked = pd.concat([frame, frame.iloc[::-1]], ignore_index=True)
    assert out.read_text() == stacked.to_csv(sep="\t", index=False)
    assert "wrote 4 rows from 2 tables" in (tmp_path / "aggregate.log").read_text()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("drop_replicate", "replicate 2 is missing (1 of 3 configured replicates are"),
        ("cut_inside", "replicate 2 has 19 rows with trials 1..19, expected trials 1..30"),
        ("cut_mid_line", "line 91 (replicate 2): reward is missing"),
        ("bad_action", "replicate 1, trial 5: action must be 0 or 1, got 7"),
    ],
)
def test_a_damaged_data_file_fails_the_fit_job_and_names_the_problem(
    tmp_path, data_file, damage, message
):
    lines = data_file.read_text().splitlines()
    if damage == "drop_replicate":
        lines = [ln for ln in lines if not ln.startswith("rw\t2\t")]
    elif damage == "cut_inside":
        lines = lines[: 1 + 2 * 30 + 19]
    elif damage == "cut_mid_line":
        lines = [*lines[:-1], "\t".join(lines[-1].split("\t")[:4])]  # reward and truth gone
    else:
        lines = [
            ("rw\t1\t5\t7\t1\t0.4\t3.0" if ln.startswith("rw\t1\t5\t") else ln) for ln in lines
        ]
    data_file.write_text("\n".join(lines) + "\n")
    out, log = tmp_path / "mle.tsv", tmp_path / "fit.log"
    with pytest.raises(ValueError) as err:
        jobs.fit_mle_job(data_file, out, fit_config(), UNIT, log)
    assert str(data_file) in str(err.value) and message in str(err.value), str(err.value)
    assert message in log.read_text()
    assert not out.exists()


# ---------------------------------------------------------------------------
# Sampling and summary jobs (slow: compile and run nutpie)
# ---------------------------------------------------------------------------

BAYES_SECTIONS = ("seed", "task", "priors", "sampler")
SHORT_SAMPLER = {"chains": 2, "tune": 150, "draws": 150}


def _bayes_config():
    return fit_config(BAYES_SECTIONS, sampler=SHORT_SAMPLER)


@pytest.mark.slow
def test_sampling_then_summary_jobs_equal_fit_datasets_and_resume_from_checkpoints(
    tmp_path, data_file
):
    from conftest import default_settings

    from rlrecover.fitting import DatasetSpec, fit_datasets
    from rlrecover.inference.posterior import load_fits

    methods = ["pymc_potential", "pymc_bernoulli"]
    draws = [tmp_path / f"{m}.npz" for m in methods]
    tables = [tmp_path / f"{m}.tsv" for m in methods]
    ck = tmp_path / "checkpoints" / "cell"
    jobs.fit_bayes_job(data_file, draws, methods, _bayes_config(), UNIT, ck, 2, tmp_path / "b.log")
    assert not (tmp_path / "checkpoints").exists(), "checkpoints are removed after the job"
    summary_cfg = fit_config(("seed", "task", "coverage_levels"))
    jobs.summarize_job(draws, tables, methods, summary_cfg, UNIT, tmp_path / "s.log")

    # The same numbers as fitting in one go (one thread), in every column but seconds.
    settings = default_settings(
        task={"n_trials": 30}, coverage_levels=[0.5, 0.9], sampler=SHORT_SAMPLER
    )
    data = pd.read_csv(data_file, sep="\t")

    def spec_of(rep):
        return DatasetSpec(TRUTH, "alpha~0.4/beta~3", (*TRUTH.values(), rep))

    for method, table in zip(methods, tables, strict=True):
        direct = fit_datasets(method, data, spec_of, settings, lambda _: None)
        got = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
        want = direct.astype(str).replace({"nan": "", "<NA>": ""})
        cols = [c for c in got.columns if c != "seconds"]
        written = tmp_path / "direct.tsv"
        direct.to_csv(written, sep="\t", index=False)
        want = pd.read_csv(written, sep="\t", dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(got[cols], want[cols])

    # A rerun after an interruption: two datasets of the first method were finished.
    fits = load_fits(draws[0])
    from rlrecover.data import iter_datasets
    from rlrecover.run.checkpoint import Checkpoints

    context = {**_bayes_config(), "unit": {"truth": TRUTH}}
    store = Checkpoints(ck, methods[0], context)
    for (_, actions, rewards), fit in list(zip(iter_datasets(data), fits, strict=True))[:2]:
        store.save(fit, actions, rewards)
    again = [tmp_path / f"again_{m}.npz" for m in methods]
    log = tmp_path / "again.log"
    jobs.fit_bayes_job(data_file, again, methods, _bayes_config(), UNIT, ck, 1, log)
    assert "pymc_potential: 2 datasets taken from checkpoints" in log.read_text()
    assert log.read_text().count("pymc_potential alpha~0.4/beta~3 replicate") == 1
    for a, b in zip(load_fits(draws[0]), load_fits(again[0]), strict=True):
        assert all(np.array_equal(a.draws[p], b.draws[p]) for p in a.draws)


@pytest.mark.slow
def test_a_cancelled_sampling_job_stops_keeps_its_finished_datasets_and_writes_nothing(
    tmp_path,
):
    import threading

    from rlrecover import cancel as interrupt
    from rlrecover.inference.sampling import IN_FLIGHT

    # more datasets than sample at once, so that some start after the first is done
    unit = {**UNIT, "replicates": 2 * IN_FLIGHT}
    cfg = fit_config()
    data = simulate_cell(
        RW, cfg["seed"], TRUTH, unit["replicates"], TaskSettings.from_config(cfg["task"])
    )
    data_file = tmp_path / "data.tsv"
    data.to_csv(data_file, sep="\t", index=False)
    methods = ["pymc_potential"]
    out, ck, log = tmp_path / "d.npz", tmp_path / "ck", tmp_path / "b.log"
    cfg = fit_config(BAYES_SECTIONS, sampler={"chains": 2, "tune": 40000, "draws": 40000})

    def cancel_after_first_dataset():
        while "replicate 0:" not in (log.read_text() if log.exists() else ""):
            time.sleep(0.05)
        interrupt.CANCEL.set()  # while the second dataset samples
        cancelled_at.append(time.perf_counter())

    cancelled_at = []
    watcher = threading.Thread(target=cancel_after_first_dataset, daemon=True)
    interrupt.CANCEL.clear()
    watcher.start()
    try:
        with pytest.raises(interrupt.Cancelled):
            jobs.fit_bayes_job(data_file, [out], methods, cfg, unit, ck, 1, log)
        stopped = time.perf_counter()
    finally:
        interrupt.CANCEL.clear()
        watcher.join(5)
    assert not out.exists()
    assert "stopped on user request" in log.read_text()
    kept = sorted(p.name.split(".")[0] for p in (ck / "pymc_potential").glob("rep~*.npz"))
    # IN_FLIGHT datasets sample at once: those started with the first may have
    # finished too (they are handed over in order), never one started after it
    assert kept in [[f"rep~{k}" for k in range(n)] for n in range(1, IN_FLIGHT + 1)]
    # nutpie is polled every half second: the job ends well before the second dataset
    # would have (the first took as long as a whole dataset does).
    first = float(log.read_text().split("replicate 0: ")[1].split(" s")[0])
    assert stopped - cancelled_at[0] < min(2.0, first), (stopped - cancelled_at[0], first)


def test_figures_drawn_by_worker_processes_equal_those_drawn_in_this_one(tmp_path):
    from test_plots import make_recovery

    from rlrecover.report import figures as plots

    rec = make_recovery(trials=(50, 150))
    figures = {"map_bias": (plots.plot_grid_map, (rec, RW, "bias"))}
    figures |= {f"recovery_{p}": (plots.plot_recovery, (rec, RW, p)) for p in ("alpha", "beta")}
    written = {}
    for processes in (1, 2):
        outputs = {name: tmp_path / str(processes) / f"{name}.png" for name in figures}
        lines: list[str] = []
        jobs.draw_figures(figures, outputs, processes, lines.append)
        assert sorted(lines) == sorted(f"wrote {outputs[name]}" for name in figures)
        written[processes] = {name: path.read_bytes() for name, path in outputs.items()}
    assert written[1] == written[2]


def _write_pid(path):
    """A "figure" that records which process drew it."""
    Path(path).write_text(str(os.getpid()))


def test_figures_are_left_to_the_workers_when_this_process_must_not_draw(tmp_path):
    figures = {name: (_write_pid, ()) for name in "abc"}
    outputs = {name: tmp_path / name for name in figures}
    lines: list[str] = []
    jobs.draw_figures(figures, outputs, 1, lines.append, here=False)
    assert sorted(lines) == sorted(f"wrote {path}" for path in outputs.values())
    drawn_by = {int(path.read_text()) for path in outputs.values()}
    assert os.getpid() not in drawn_by and len(drawn_by) == 1  # one worker drew them all
    # with no process to spare, this one draws after all
    jobs.draw_figures(figures, outputs, 0, lambda line: None, here=False)
    assert {int(path.read_text()) for path in outputs.values()} == {os.getpid()}


def _write_freeze_count(path):
    """A "figure" that records how many objects its process's collector ignores."""
    import gc

    Path(path).write_text(str(gc.get_freeze_count()))


def test_figure_workers_freeze_the_objects_they_start_with(tmp_path):
    # A worker's objects as forked (matplotlib and the rest) live as long as it does;
    # frozen, no collection traverses them again.
    outputs = {"a": tmp_path / "a"}
    jobs.draw_figures({"a": (_write_freeze_count, ())}, outputs, 1, lambda line: None, here=False)
    assert int(outputs["a"].read_text()) > 100_000


def _draw_slowly(path):
    """A "figure" that takes far longer than the test waits."""
    time.sleep(60)
    Path(path).write_text("drawn")


def test_ctrl_c_stops_the_figure_workers(tmp_path):
    from rlrecover.cancel import CANCEL, Cancelled

    figures = {name: (_draw_slowly, ()) for name in "ab"}
    outputs = {name: tmp_path / name for name in figures}
    timer = threading.Timer(1.0, CANCEL.set)
    timer.start()
    start = time.perf_counter()
    try:
        with pytest.raises(Cancelled):
            jobs.draw_figures(figures, outputs, 2, lambda line: None, here=False)
    finally:
        timer.join()
        CANCEL.clear()
    assert time.perf_counter() - start < 5.0  # not the 60 s a figure takes
    time.sleep(0.5)
    assert not any(path.exists() for path in outputs.values())


def test_figure_workers_start_with_the_plotting_modules_imported():
    from concurrent.futures import ProcessPoolExecutor

    jobs.start_figure_workers()
    jobs.start_figure_workers()  # a second call finds the server running
    with ProcessPoolExecutor(1, mp_context=jobs._figure_context()) as pool:
        # eval is picklable and imports nothing: it sees the modules the worker has
        loaded = pool.submit(eval, "set(__import__('sys').modules)").result()
    assert set(jobs.FIGURE_MODULES) <= loaded
    assert "matplotlib" in loaded


def test_a_figure_that_fails_in_a_worker_process_fails_the_job(tmp_path):
    from test_plots import make_recovery

    from rlrecover.report import figures as plots

    rec = make_recovery()
    figures = {
        "alpha": (plots.plot_recovery, (rec, RW, "alpha")),
        "gamma": (plots.plot_recovery, (rec, RW, "gamma")),  # not a parameter
    }
    outputs = {name: tmp_path / f"{name}.png" for name in figures}
    with pytest.raises(ValueError, match="gamma"):
        jobs.draw_figures(figures, outputs, 2, lambda line: None)
