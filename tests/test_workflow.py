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
RWCK_RANGES = {"alpha": [0.2, 0.8], "beta": [2, 8], "alpha_c": [0.2, 0.8], "beta_c": [1, 4]}
# Two models of different sizes and designs: rw on a grid, rwck (four parameters) on
# Sobol truths with a replicate each.
TINY = {
    "seed": 11,
    "task": {"n_trials": TRIALS},
    "models": {
        "rw": {"grid": {"alpha": [0.4], "beta": [3, 8]}},
        "rwck": {"truths": {"sobol": 2, "ranges": RWCK_RANGES}, "replicates": 1},
    },
    "replicates": 2,
    "methods": METHODS,
    "sampler": {"chains": 2, "tune": 150, "draws": 150},
    "mle": {"n_starts": 2},
    "coverage_levels": LEVELS,
    "sbc": {"draws": 6, "batch": 4},
    "exact_check": {"per_cell": 1, "sbc": 2},
}
CELLS = [(0.4, 3.0), (0.4, 8.0)]
MODELS = {"rw": ("alpha", "beta"), "rwck": ("alpha", "beta", "alpha_c", "beta_c")}
REPLICATES = {"rw": 2, "rwck": 1}
TRUTHS = {"rw": 2, "rwck": 2}
TABLES = ["recovery_metrics", "coverage", "coverage_curve", "diagnostics", "runtime"]
TABLES += ["grid_map", "tradeoff", "design", "design_cells", "exact_check", "sbc"]
TABLES += ["sbc_coverage_curve"]
EXTRA_TABLES = {"rw": [], "rwck": ["correlations", "error_dependence"]}
PLOTS = ["coverage", "coverage_curve", "design", "exact_check"]
PLOTS += ["sbc_ranks", "sbc_ecdf", "sbc_coverage_curve"]
EXTRA_PLOTS = {
    "rw": ["map_bias", "map_rmse", "map_coverage90", "map_flagged", "tradeoff"],
    "rwck": ["error_dependence", "correlations"],
}


def plots_of(model: str) -> list[str]:
    return [f"recovery_{p}" for p in MODELS[model]] + PLOTS + EXTRA_PLOTS[model]


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
    expected = ["recovery.tsv", "sbc/recovery.tsv", "report.html", "tables/summary.tsv"]
    for model in MODELS:
        expected += [f"tables/{model}/{t}.tsv" for t in TABLES + EXTRA_TABLES[model]]
        expected += [f"plots/{model}/{p}.png" for p in plots_of(model)]
        for k in (0, 1):
            expected += [f"sbc/data/{model}/batch~{k}.tsv"]
            expected += [f"sbc/fits/{model}/{m}/batch~{k}.tsv" for m in METHODS]
        expected.append(f"exact/{model}/sbc/batch~0.tsv")
    for n in TRIALS:
        for alpha, beta in CELLS:
            cell = f"rw/trials~{n}/alpha~{alpha:g}/beta~{beta:g}"
            expected += [f"data/{cell}.tsv", f"exact/{cell}.tsv"]
    for name in expected:
        path = results / name
        assert path.is_file() and path.stat().st_size > 0, name
    for model in MODELS:
        assert not (results / f"exact/{model}/sbc/batch~1.tsv").exists()  # nothing to check
        for p in plots_of(model):
            png = results / f"plots/{model}/{p}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
            # a figure with something drawn: one saying only "nothing to draw" is < 10 kB
            assert png.stat().st_size > 20_000, png
        # every cell of both numbers of trials has its data, fits and exact check
        for n in TRIALS:
            data = sorted((results / f"data/{model}/trials~{n}").rglob("*.tsv"))
            fits = sorted((results / f"fits/{model}/mle/trials~{n}").rglob("*.tsv"))
            exact = sorted((results / f"exact/{model}/trials~{n}").rglob("*.tsv"))
            assert len(data) == len(fits) == len(exact) == TRUTHS[model], model


@pytest.mark.slow
def test_datasets_say_what_they_hold(run):
    for n in TRIALS:
        data = pd.read_csv(run / f"results/data/rw/trials~{n}/alpha~0.4/beta~3.tsv", sep="\t")
        assert list(data.columns) == [
            "model",
            "replicate",
            "trial",
            "action",
            "reward",
            "alpha_true",
            "beta_true",
        ]
        assert len(data) == TINY["replicates"] * n
        assert (data["model"] == "rw").all() and (data["beta_true"] == 3).all()
        assert set(data["action"]) <= {0, 1} and set(data["reward"]) <= {0, 1}
    # The shorter dataset is the start of the longer one (same random stream).
    short = pd.read_csv(run / "results/data/rw/trials~30/alpha~0.4/beta~3.tsv", sep="\t")
    long = pd.read_csv(run / "results/data/rw/trials~60/alpha~0.4/beta~3.tsv", sep="\t")
    head = long[long["trial"] <= 30].reset_index(drop=True)
    pd.testing.assert_frame_equal(short, head)
    sbc = pd.read_csv(run / "results/sbc/data/rwck/batch~1.tsv", sep="\t")
    assert list(sbc.columns)[:5] == ["model", "replicate", "trial", "action", "reward"]
    assert sorted(sbc["replicate"].unique()) == [4, 5]
    # a path names its truth: the Sobol cell's values are its data's truths
    for path in (run / "results/data/rwck/trials~30").rglob("*.tsv"):
        cell = path.relative_to(run / "results/data/rwck/trials~30").with_suffix("")
        truth = dict(part.split("~") for part in cell.parts)
        data = pd.read_csv(path, sep="\t")
        for p in MODELS["rwck"]:
            assert (data[f"{p}_true"] == float(truth[p])).all()
            lo, hi = RWCK_RANGES[p]
            assert lo <= float(truth[p]) <= hi


@pytest.mark.slow
def test_recovery_has_one_finite_row_per_model_method_and_dataset(run):
    rec = pd.read_csv(run / "results/recovery.tsv", sep="\t")
    n = sum(TRUTHS[m] * REPLICATES[m] for m in MODELS) * len(METHODS) * len(TRIALS)
    assert len(rec) == n
    keys = rec[["model", "method", "cell", "n_trials", "replicate"]]
    assert not keys.duplicated().any()
    assert rec["model"].drop_duplicates().tolist() == ["rw", "rwck"]
    assert sorted(rec["method"].unique()) == sorted(METHODS)
    # a four-parameter model's MLE may have unusable standard errors at 30 trials
    bayes_rows = rec["method"] != "mle"
    assert (rec.loc[bayes_rows, "status"] == "ok").all(), rec[["model", "method", "error"]]
    assert rec["status"].isin(["ok", "unusable_se"]).all(), rec[["model", "method", "error"]]
    assert (rec.loc[rec["model"] == "rw", "status"] == "ok").all()
    assert sorted(rec["n_trials"].unique()) == TRIALS
    sbc = pd.read_csv(run / "results/sbc/recovery.tsv", sep="\t")
    assert list(sbc.columns) == list(rec.columns)
    assert len(sbc) == len(METHODS) * TINY["sbc"]["draws"] * len(MODELS)
    assert (sbc["cell"] == "sbc").all() and sorted(sbc["replicate"].unique()) == list(range(6))
    for model, params in MODELS.items():
        rows = rec[(rec["model"] == model) & (rec["status"] == "ok")]
        others = [p for p in ("alpha_c", "beta_c") if p not in params]
        for p in others:
            assert rows[f"{p}_est"].isna().all(), (model, p)
        finite = [f"{p}_{s}" for p in params for s in ("est", "median", "sd", "cdf_true")]
        finite.append("seconds")
        for level in LEVELS:
            for p in params:
                finite += list(interval_columns(p, level))
        for col in finite:
            assert rows[col].map(math.isfinite).all(), (model, col)
        bayes = rows[rows["method"] != "mle"]
        for col in ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences", "alpha_mcse"):
            assert bayes[col].map(math.isfinite).all(), (model, col)
        assert rows.loc[rows["method"] == "mle", "rhat_max"].isna().all()
    assert rec.loc[rec["model"] == "rwck", "corr_alpha_alpha_c"].map(math.isfinite).all()


@pytest.mark.slow
def test_tables_cover_every_method(run):
    for model, params in MODELS.items():
        metrics = pd.read_csv(run / f"results/tables/{model}/recovery_metrics.tsv", sep="\t")
        coverage = pd.read_csv(run / f"results/tables/{model}/coverage.tsv", sep="\t")
        for table in (metrics, coverage):
            assert set(table["method"]) == set(METHODS)
            assert set(table["parameter"]) == set(params)
        overall = coverage[coverage["cell"] == "all"]
        assert sorted(overall["level"].unique()) == LEVELS
        n_fits = TRUTHS[model] * REPLICATES[model] * len(TRIALS)
        assert (overall["n_fits"] == n_fits).all()
        assert (overall["n"] + overall["n_excluded"] == n_fits).all()
        bayes = overall[overall["method"] != "mle"]
        assert (bayes["n"] == n_fits).all()
        assert (
            (overall["ci_low"] <= overall["coverage"])
            & (overall["coverage"] <= overall["ci_high"])
        ).all()
    summary = pd.read_csv(run / "results/tables/summary.tsv", sep="\t")
    pairs = summary[["model", "parameter"]].drop_duplicates().values.tolist()
    assert pairs == [[m, p] for m, params in MODELS.items() for p in params]


@pytest.mark.slow
def test_report_has_every_section(run):
    html = (run / "results/report.html").read_text()
    from rlrecover.report.html import MODEL_SECTIONS, STUDY_SECTIONS

    for model in MODELS:
        assert f'id="model-{model}"' in html and f'href="#model-{model}"' in html
        for section, _ in MODEL_SECTIONS:
            assert f'id="{model}-{section}"' in html, (model, section)
    for section, _ in STUDY_SECTIONS:
        assert f'id="{section}"' in html, section
    assert html.count("data:image/png;base64,") == sum(len(plots_of(m)) for m in MODELS)
    assert "was made for this run" not in html  # every figure is there
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "importance sampling from the posterior mode" in html  # rwck's reference


@pytest.mark.slow
def test_fit_logs_have_one_line_per_dataset(run):
    cell = "rw/trials~60/alpha~0.4/beta~8.log"
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
    models = {**TINY["models"], "rw": {"grid": {"alpha": [0.4], "beta": [3, 8, 15]}}}
    counts = _dry_run_counts(run, models=models)
    # The new cell at each number of trials; nothing for the existing cells, the other
    # model or SBC.
    for rule in ("simulate", "fit_mle", "fit_bayes", "summarize", "exact"):
        assert counts.get(rule) == "2", (rule, counts)
    assert not [rule for rule in counts if rule.startswith("sbc_")], counts
    assert "tables_rw" in counts and "tables_rwck" in counts  # read recovery.tsv again


@pytest.mark.slow
def test_adding_a_model_runs_only_its_work(run):
    models = {**TINY["models"], "bias": {"grid": {"b": [0.3, 0.7]}}}
    counts = _dry_run_counts(run, models=models)
    # the new model's cells at both numbers of trials and its SBC batches only
    assert counts.get("simulate") == "4" and counts.get("fit_bayes") == "4", counts
    assert counts.get("sbc_simulate") == "2" and counts.get("sbc_fit_bayes") == "2", counts
    assert counts.get("fit_mle") == "4" and counts.get("exact") == "4", counts
    assert "plots_bias" in counts and "tables_bias" in counts, counts


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
        (
            {
                "models": {
                    **TINY["models"],
                    "rw": {**TINY["models"]["rw"], "priors": {"alpha": {"a": 2, "b": 2}}},
                }
            },
            ["fit_bayes", "sbc_fit_mle"],
            ["fit_mle"],
        ),
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
    cols = ["model", "method", "cell", "replicate", "alpha_est", "beta_est"]
    cols += ["alpha_sd", "beta_sd", "alpha_c_est", "rhat_max"]
    pd.testing.assert_frame_equal(threaded[cols], processes[cols])


@pytest.mark.slow
def test_exact_check_covers_every_checked_fit(run):
    for model, params in MODELS.items():
        exact = pd.read_csv(run / f"results/tables/{model}/exact_check.tsv", sep="\t")
        # 1 dataset per cell and number of trials, 2 SBC datasets; 2 PyMC methods.
        n_datasets = TRUTHS[model] * len(TRIALS) + TINY["exact_check"]["sbc"]
        assert len(exact) == n_datasets * 2 * len(params)
        assert exact["z"].map(math.isfinite).all()
        assert set(exact["reference"]) == {
            "quadrature" if len(params) <= 3 else "importance sampling"
        }
        assert exact["reference_reliable"].all(), exact["reference_note"]
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
    options.add_argument("--window-size=1300,900")
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    url = (run / "results/report.html").resolve().as_uri()
    try:
        driver.get(url)
        title = driver.title
        # Folded: the first screen shows the headline and no model's figures.
        shown = "return Array.from(document.images).filter(i => i.checkVisibility()).length"
        folded = driver.execute_script(shown)
        headline = driver.execute_script(
            "const t = document.querySelector('table.headline');"
            "return [t.getBoundingClientRect().top, t.rows.length];"
        )
        height = driver.execute_script("return document.body.scrollHeight")
        # A model's link in the headline opens its details.
        driver.find_element("css selector", 'a[href="#model-rwck"]').click()
        opened = driver.execute_script(
            "return [document.querySelector('#model-rwck details').open,"
            " document.querySelector('#model-rw details').open]"
        )
        visible_after = driver.execute_script(shown)
        # Folded again, the same link (to the hash already shown) opens it again.
        driver.execute_script("document.querySelector('#model-rwck details').open = false")
        driver.find_element("css selector", 'a[href="#model-rwck"]').click()
        reopened = driver.execute_script(
            "return document.querySelector('#model-rwck details').open"
        )
        # Open every model: every image decodes.
        driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        images = driver.execute_script(
            "return Array.from(document.images).map("
            "i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
        )
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    finally:
        driver.quit()
    assert title == "Parameter recovery report"
    assert errors == []
    assert folded == 0, "a model's figures are folded away at first"
    top, rows = headline
    n_rows = sum(len(p) for p in MODELS.values()) * len(METHODS)
    assert top < 900 and rows == n_rows + 1, headline  # on the first screen, a row each
    assert height < 4000, f"the folded page is {height} px tall"
    assert opened == [True, False]
    assert reopened
    assert visible_after == len(plots_of("rwck"))
    assert len(images) == sum(len(plots_of(m)) for m in MODELS)
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
    config["models"] = {"rw": {"grid": {"alpha": [0.2, 0.6], "beta": [2, 6]}}}
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
        benchmarks = sorted((tmp_path / "results/benchmarks/fit_mle/rw").rglob("*.tsv"))
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
    config["models"] = {"rw": TINY["models"]["rw"]}
    config |= {"sbc": {"draws": 12, "batch": 2}, "exact_check": {"per_cell": 0, "sbc": 4}}
    config["sampler"] = {"chains": 2, "tune": 100, "draws": 100}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/sbc/recovery.tsv", "results/exact/rw/sbc/batch~0.tsv"]
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", *targets],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = sorted(
        (tmp_path / "results/logs/sbc_fit_bayes/rw").glob("batch~*.log"),
        key=lambda path: path.stat().st_mtime_ns,
    )
    assert len(logs) == 6  # one job at a time: the logs were finished in this order
    assert {path.stem for path in logs[:2]} == {"batch~0", "batch~1"}
