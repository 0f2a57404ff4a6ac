"""End to end: the real Snakemake pipeline on a tiny config in a temporary directory."""

from __future__ import annotations

import math
import os
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
TRIALS = [30, 60]
TINY = {
    "seed": 11,
    "task": {"n_trials": TRIALS},
    "grid": {"alpha": [0.4], "beta": [3, 8]},
    "replicates": 2,
    "methods": METHODS,
    "sampler": {"chains": 2, "tune": 150, "draws": 150},
    "mle": {"n_starts": 2},
    "coverage_levels": LEVELS,
    "sbc": {"draws": 6, "batch": 4},
    "exact_check": {"per_cell": 1, "sbc": 2},
}
CELLS = [(0.4, 3.0), (0.4, 8.0)]
TABLES = ["recovery_metrics", "coverage", "coverage_curve", "diagnostics", "runtime"]
TABLES += ["grid_map", "tradeoff", "design", "design_cells", "exact_check", "sbc"]
TABLES += ["sbc_coverage_curve"]
PLOTS = ["recovery_alpha", "recovery_beta", "coverage", "coverage_curve", "map_bias"]
PLOTS += ["map_rmse", "map_coverage90", "map_flagged", "tradeoff", "design", "exact_check"]
PLOTS += ["sbc_ranks", "sbc_ecdf", "sbc_coverage_curve"]


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
    expected = ["recovery.tsv", "sbc/recovery.tsv", "report.html"]
    expected += [f"tables/{t}.tsv" for t in TABLES] + [f"plots/{p}.png" for p in PLOTS]
    for n in TRIALS:
        for alpha, beta in CELLS:
            cell = f"trials~{n}/alpha~{alpha:g}/beta~{beta:g}"
            expected += [f"data/{cell}.tsv", f"exact/{cell}.tsv"]
            expected += [f"fits/{m}/{cell}.tsv" for m in METHODS]
    for k in (0, 1):
        expected += [f"sbc/data/batch~{k}.tsv"] + [f"sbc/fits/{m}/batch~{k}.tsv" for m in METHODS]
    expected.append("exact/sbc/batch~0.tsv")
    for name in expected:
        path = results / name
        assert path.is_file() and path.stat().st_size > 0, name
    assert not (results / "exact/sbc/batch~1.tsv").exists()  # no dataset to check there
    for p in PLOTS:
        assert (results / f"plots/{p}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p


@pytest.mark.slow
def test_datasets_have_the_interface_columns(run):
    for n in TRIALS:
        data = pd.read_csv(run / f"results/data/trials~{n}/alpha~0.4/beta~3.tsv", sep="\t")
        assert list(data.columns) == ["replicate", "trial", "action", "reward"]
        assert len(data) == TINY["replicates"] * n
        assert set(data["action"]) <= {0, 1} and set(data["reward"]) <= {0, 1}
    # The shorter dataset is the start of the longer one (same random stream).
    short = pd.read_csv(run / "results/data/trials~30/alpha~0.4/beta~3.tsv", sep="\t")
    long = pd.read_csv(run / "results/data/trials~60/alpha~0.4/beta~3.tsv", sep="\t")
    head = long[long["trial"] <= 30].reset_index(drop=True)
    pd.testing.assert_frame_equal(short, head)
    sbc = pd.read_csv(run / "results/sbc/data/batch~1.tsv", sep="\t")
    assert list(sbc.columns) == ["replicate", "trial", "action", "reward"]
    assert sorted(sbc["replicate"].unique()) == [4, 5]


@pytest.mark.slow
def test_recovery_has_one_finite_row_per_method_and_dataset(run):
    rec = pd.read_csv(run / "results/recovery.tsv", sep="\t")
    assert len(rec) == len(METHODS) * len(CELLS) * TINY["replicates"] * len(TRIALS)
    keys = rec[["method", "alpha_true", "beta_true", "n_trials", "replicate"]]
    assert not keys.duplicated().any()
    assert sorted(rec["method"].unique()) == sorted(METHODS)
    assert (rec["status"] == "ok").all(), rec[["method", "error"]]
    assert sorted(rec["n_trials"].unique()) == TRIALS
    sbc = pd.read_csv(run / "results/sbc/recovery.tsv", sep="\t")
    assert list(sbc.columns) == list(rec.columns)
    assert len(sbc) == len(METHODS) * TINY["sbc"]["draws"]
    assert (sbc["cell"] == "sbc").all() and sorted(sbc["replicate"].unique()) == list(range(6))
    finite = ["alpha_est", "beta_est", "alpha_median", "beta_median", "alpha_sd", "beta_sd"]
    finite += ["alpha_cdf_true", "beta_cdf_true", "seconds"]
    for level in LEVELS:
        for p in ("alpha", "beta"):
            finite += list(interval_columns(p, level))
    for col in finite:
        assert rec[col].map(math.isfinite).all(), col
    bayes = rec[rec["method"] != "mle"]
    for col in ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences", "alpha_mcse"):
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
    assert (overall["n"] == len(CELLS) * TINY["replicates"] * len(TRIALS)).all()
    assert (
        (overall["ci_low"] <= overall["coverage"]) & (overall["coverage"] <= overall["ci_high"])
    ).all()


@pytest.mark.slow
def test_report_has_every_section(run):
    html = (run / "results/report.html").read_text()
    from rlrecover.report import SECTIONS

    for section, _ in SECTIONS:
        assert f'id="{section}"' in html, section
    assert html.count("data:image/png;base64,") == len(PLOTS)
    assert "was made for this run" not in html  # every figure is there
    assert not re.search(r"""(src|href)=["']https?://""", html)


@pytest.mark.slow
def test_fit_logs_have_one_line_per_dataset(run):
    cell = "trials~60/alpha~0.4/beta~8.log"
    logs = {
        "fit_mle": (run / f"results/logs/fit_mle/{cell}").read_text(),
        "fit_bayes": (run / f"results/logs/fit_bayes/{cell}").read_text(),
        "summarize": (run / f"results/logs/summarize/{cell}").read_text(),
    }
    for rep in range(TINY["replicates"]):
        line = rf"alpha~0.4/beta~8 replicate {rep}: [0-9.]+ s"
        assert re.search(rf"mle {line}, ok", logs["fit_mle"])
        for method in METHODS[1:]:
            assert re.search(rf"{method} {line}, sampled", logs["fit_bayes"])
            assert re.search(rf"{method} {line}, ok", logs["summarize"])


@pytest.mark.slow
def test_adding_a_grid_value_runs_only_the_new_work(run):
    counts = _dry_run_counts(run, grid={"alpha": [0.4], "beta": [3, 8, 15]})
    # The new cell at each number of trials; nothing for the existing cells or SBC.
    for rule in ("simulate", "fit_mle", "fit_bayes", "summarize", "exact"):
        assert counts.get(rule) == "2", (rule, counts)
    assert not [rule for rule in counts if rule.startswith("sbc_")], counts


def _dry_run_counts(run, **edits):
    """Jobs per rule that ``snakemake --dry-run`` would run after editing the config."""
    config = {**TINY, **edits}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        proc = snakemake(run, "-n", "--quiet", "rules", timeout=300)
    finally:
        (run / "config.yaml").write_text(yaml.safe_dump(TINY))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout + proc.stderr, flags=re.M))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("edit", "runs", "stays"),
    [
        # Sampler settings: resample and summarise again; no MLE refit.
        ({"sampler": {**TINY["sampler"], "draws": 200}}, ["fit_bayes", "summarize"], ["fit_mle"]),
        (
            {"sampler": {**TINY["sampler"], "target_accept": 0.9}},
            ["sbc_fit_bayes"],
            ["sbc_fit_mle"],
        ),
        # Coverage levels: summaries and Wald intervals only; nothing is resampled, and
        # the exact check (which does not use intervals) stays.
        ({"coverage_levels": [0.5, 0.8]}, ["summarize", "fit_mle"], ["fit_bayes", "exact"]),
        # MLE settings: only the MLE fits.
        ({"mle": {"n_starts": 3}}, ["fit_mle", "sbc_fit_mle"], ["fit_bayes", "summarize"]),
        # Priors: the draws, and the SBC truths (so SBC datasets and their MLE fits).
        ({"priors": {"alpha": {"a": 2, "b": 2}}}, ["fit_bayes", "sbc_fit_mle"], ["fit_mle"]),
    ],
)
def test_an_edit_reruns_only_the_jobs_that_depend_on_it(run, edit, runs, stays):
    counts = _dry_run_counts(run, **edit)
    for rule in runs:
        assert int(counts.get(rule, 0)) > 0, (rule, counts)
    for rule in stays:
        assert rule not in counts, (rule, counts)


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


@pytest.mark.slow
def test_exact_check_covers_every_checked_fit(run):
    exact = pd.read_csv(run / "results/tables/exact_check.tsv", sep="\t")
    # 1 dataset per cell and number of trials, 2 SBC datasets; 2 PyMC methods, 2 params.
    n_datasets = len(CELLS) * len(TRIALS) + TINY["exact_check"]["sbc"]
    assert len(exact) == n_datasets * 2 * 2
    assert exact["z"].map(math.isfinite).all()
    # Short chains, but a working sampler: z is roughly standard normal.
    assert (exact["z"].abs() < 6).all(), exact[["method", "cell", "parameter", "z"]]


def _chromium():
    """Debian's Chromium and ChromeDriver, or None where they are not installed."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.mark.slow
def test_report_renders_in_a_real_browser(run):
    """The page loads in headless Chromium without console errors; every image decodes."""
    found = _chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium and chromium-driver (see .ci/run)")
        pytest.skip("chromium and chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    try:
        driver.get((run / "results/report.html").resolve().as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map("
            "i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
        )
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        title = driver.title
    finally:
        driver.quit()
    assert title == "Q-learning parameter recovery report"
    assert errors == []
    assert len(images) == len(PLOTS)
    for alt, complete, width, height in images:
        assert complete and width > 0 and height > 0, alt


# Runs Snakemake counting the timers its scheduler arms to enforce
# --max-jobs-per-timespan (one per scheduling pass) and the reads of its own memory
# map (/proc/<pid>/smaps) that benchmark: makes while a job runs as its thread.
_COUNT_SCHEDULER_TIMERS_AND_SMAPS_READS = """
import atexit, sys, threading
import psutil
armed, smaps = [], []
class CountingTimer(threading.Timer):
    def __init__(self, *args, **kwargs):
        if sys._getframe(1).f_code.co_name == "_schedule_reevalutation":
            armed.append(1)
        super().__init__(*args, **kwargs)
threading.Timer = CountingTimer
memory_full_info = psutil.Process.memory_full_info
def counting_memory_full_info(self):
    smaps.append(1)
    return memory_full_info(self)
psutil.Process.memory_full_info = counting_memory_full_info
def report():
    print(f"rate-limit timers armed: {len(armed)}; smaps reads: {len(smaps)}", file=sys.stderr)
atexit.register(report)
from snakemake.cli import main
sys.argv = ["snakemake", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_a_local_runs_scheduler_and_benchmarks_stay_light(tmp_path):
    # Snakemake's default job rate limit arms a timer on every scheduling pass that
    # finds jobs waiting for a core, and each timer triggers another pass: a run's
    # scheduler ends up busy all the time. And benchmark: reads the whole process's
    # memory map twice a second while a job runs as a thread. The workflow's onstart
    # hook switches both off for local runs; with --no-hooks (the hook not run) they
    # happen.
    shutil.copy(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    config = TINY | {"methods": ["mle"], "sbc": {"draws": 0}}
    config["grid"] = {"alpha": [0.2, 0.6], "beta": [2, 6]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    armed, smaps, bench = {}, {}, {}
    for hooks in ([], ["--no-hooks"]):
        shutil.rmtree(tmp_path / "results", ignore_errors=True)
        args = ["--cores", "1", *hooks, "results/recovery.tsv"]
        proc = subprocess.run(
            [sys.executable, "-c", _COUNT_SCHEDULER_TIMERS_AND_SMAPS_READS, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        found = re.search(r"rate-limit timers armed: (\d+); smaps reads: (\d+)", proc.stderr)
        assert found, proc.stderr[-3000:]
        armed[bool(hooks)], smaps[bool(hooks)] = int(found.group(1)), int(found.group(2))
        benchmarks = sorted((tmp_path / "results/benchmarks/fit_mle").rglob("*.tsv"))
        assert len(benchmarks) == 4 * len(TINY["task"]["n_trials"])
        bench[bool(hooks)] = pd.concat(pd.read_csv(b, sep="\t") for b in benchmarks)
    assert armed[False] == 0
    assert armed[True] > 0
    # with the hook a thread job's benchmark is its wall time, without process figures
    assert smaps[False] == 0
    assert smaps[True] >= 4
    assert (bench[False]["s"] > 0).all() and bench[False]["max_rss"].isna().all()
    assert (bench[True]["s"] > 0).all() and (bench[True]["max_rss"] > 0).all()


@pytest.mark.slow
def test_the_sbc_batches_checked_exactly_are_sampled_first(tmp_path):
    # Ready jobs of equal priority start in an order that changes from run to run;
    # the onstart hook ranks the SBC batches whose datasets are checked exactly
    # first, so that their checks are not left until after the last fit.
    shutil.copy(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    config = TINY | {"methods": ["pymc_potential"], "replicates": 1}
    config |= {"sbc": {"draws": 12, "batch": 2}, "exact_check": {"per_cell": 0, "sbc": 4}}
    config["sampler"] = {"chains": 2, "tune": 100, "draws": 100}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/sbc/recovery.tsv", "results/exact/sbc/batch~0.tsv"]
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", *targets],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = sorted(
        (tmp_path / "results/logs/sbc_fit_bayes").glob("batch~*.log"),
        key=lambda path: path.stat().st_mtime_ns,
    )
    assert len(logs) == 6  # one job at a time: the logs were finished in this order
    assert {path.stem for path in logs[:2]} == {"batch~0", "batch~1"}
