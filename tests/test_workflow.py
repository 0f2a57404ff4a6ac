"""End to end: the real Snakemake pipeline on a tiny config in a temporary directory."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rlrecover.summary import interval_columns

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["mle", "pymc_potential", "pymc_bernoulli"]
LEVELS = [0.5, 0.9]
TINY = {
    "seed": 11,
    "task": {"n_trials": 40},
    "grid": {"alpha": [0.4], "beta": [3, 8]},
    "replicates": 2,
    "methods": METHODS,
    "sampler": {"chains": 2, "tune": 150, "draws": 150},
    "mle": {"n_starts": 2},
    "coverage_levels": LEVELS,
}
CELLS = [(0.4, 3.0), (0.4, 8.0)]


def snakemake(workdir: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pipeline")
    shutil.copy(ROOT / "Snakefile", workdir / "Snakefile")
    shutil.copytree(ROOT / "workflow", workdir / "workflow")
    shutil.copytree(ROOT / "profiles", workdir / "profiles")  # fit jobs as threads
    (workdir / "config.yaml").write_text(yaml.safe_dump(TINY))
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return workdir


@pytest.mark.slow
def test_every_output_exists(run):
    results = run / "results"
    expected = [
        "recovery.tsv",
        "report.html",
        "tables/recovery_metrics.tsv",
        "tables/coverage.tsv",
        "tables/diagnostics.tsv",
        "tables/runtime.tsv",
        "plots/recovery_alpha.png",
        "plots/recovery_beta.png",
        "plots/coverage.png",
    ]
    for alpha, beta in CELLS:
        cell = f"alpha~{alpha:g}/beta~{beta:g}"
        expected.append(f"data/{cell}.tsv")
        expected += [f"fits/{m}/{cell}.tsv" for m in METHODS]
    for name in expected:
        path = results / name
        assert path.is_file() and path.stat().st_size > 0, name
    for name in ("plots/recovery_alpha.png", "plots/coverage.png"):
        assert (results / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_datasets_have_the_interface_columns(run):
    data = pd.read_csv(run / "results/data/alpha~0.4/beta~3.tsv", sep="\t")
    assert list(data.columns) == ["replicate", "trial", "action", "reward"]
    assert len(data) == TINY["replicates"] * TINY["task"]["n_trials"]
    assert set(data["action"]) <= {0, 1} and set(data["reward"]) <= {0, 1}


@pytest.mark.slow
def test_recovery_has_one_finite_row_per_method_and_dataset(run):
    rec = pd.read_csv(run / "results/recovery.tsv", sep="\t")
    assert len(rec) == len(METHODS) * len(CELLS) * TINY["replicates"]
    keys = rec[["method", "alpha_true", "beta_true", "replicate"]]
    assert not keys.duplicated().any()
    assert sorted(rec["method"].unique()) == sorted(METHODS)
    assert (rec["status"] == "ok").all(), rec[["method", "error"]]
    assert (rec["n_trials"] == TINY["task"]["n_trials"]).all()
    finite = ["alpha_est", "beta_est", "alpha_median", "beta_median", "alpha_sd", "beta_sd"]
    finite += ["alpha_cdf_true", "beta_cdf_true", "seconds"]
    for level in LEVELS:
        for p in ("alpha", "beta"):
            finite += list(interval_columns(p, level))
    for col in finite:
        assert rec[col].map(math.isfinite).all(), col
    bayes = rec[rec["method"] != "mle"]
    for col in ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences"):
        assert bayes[col].map(math.isfinite).all(), col
    assert rec.loc[rec["method"] == "mle", "rhat_max"].isna().all()


@pytest.mark.slow
def test_tables_cover_every_method(run):
    metrics = pd.read_csv(run / "results/tables/recovery_metrics.tsv", sep="\t")
    coverage = pd.read_csv(run / "results/tables/coverage.tsv", sep="\t")
    for table in (metrics, coverage):
        assert set(table["method"]) == set(METHODS)
        assert set(table["parameter"]) == {"alpha", "beta"}
    overall = coverage[coverage["cell"] == "all"]
    assert sorted(overall["level"].unique()) == LEVELS
    assert (overall["n"] == len(CELLS) * TINY["replicates"]).all()
    assert (
        (overall["ci_low"] <= overall["coverage"]) & (overall["coverage"] <= overall["ci_high"])
    ).all()


@pytest.mark.slow
def test_report_has_every_section(run):
    html = (run / "results/report.html").read_text()
    for section in (
        "summary",
        "config",
        "recovery",
        "metrics",
        "coverage",
        "diagnostics",
        "runtime",
    ):
        assert f'id="{section}"' in html, section
    assert html.count("data:image/png;base64,") >= 3
    assert not re.search(r"""(src|href)=["']https?://""", html)


@pytest.mark.slow
def test_fit_logs_have_one_line_per_dataset(run):
    for method in METHODS:
        log = (run / "results/logs/fit/alpha~0.4/beta~8.log").read_text()
        for rep in range(TINY["replicates"]):
            assert re.search(rf"{method} alpha~0.4/beta~8 replicate {rep}: [0-9.]+ s, ok", log)


@pytest.mark.slow
def test_adding_a_grid_value_runs_only_the_new_work(run):
    config = dict(TINY, grid={"alpha": [0.4], "beta": [3, 8, 15]})
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        proc = snakemake(run, "-n", "--quiet", "rules", timeout=300)
    finally:
        (run / "config.yaml").write_text(yaml.safe_dump(TINY))
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout + proc.stderr, flags=re.M))
    assert counts.get("simulate") == "1", proc.stdout + proc.stderr
    # One fit job (every method) for the new cell only.
    assert counts.get("fit") == "1", proc.stdout + proc.stderr


@pytest.mark.slow
def test_one_process_per_job_gives_the_same_fits(run, tmp_path):
    # Without the workflow profile (as on a cluster) every job is its own process; the
    # seeds depend only on the dataset, so every estimate must be identical.
    shutil.copy(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(TINY))
    proc = snakemake(tmp_path, "--workflow-profile", "none", "results/recovery.tsv")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    threaded = pd.read_csv(run / "results/recovery.tsv", sep="\t")
    processes = pd.read_csv(tmp_path / "results/recovery.tsv", sep="\t")
    cols = ["method", "alpha_true", "beta_true", "replicate", "alpha_est", "beta_est"]
    cols += ["alpha_sd", "beta_sd", "rhat_max"]
    pd.testing.assert_frame_equal(threaded[cols], processes[cols])
