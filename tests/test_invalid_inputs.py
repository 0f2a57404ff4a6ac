"""Every invalid input of the README's "Invalid input: what you will see" table, one test each.

Each case runs the real ``snakemake`` (not a dry run) in a temporary copy of the
workflow that already holds finished results, and checks the exit code, that the
message names the key, value, file and position, and that no finished result was
deleted, changed or added. Keep the README table and these rows in step.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: A small valid config.yaml (MLE only, no SBC or exact check: the pipeline takes seconds).
BASE = """\
seed: 5
task:
  n_trials: 30
models:
  rw:
    grid:
      alpha: [0.4]
      beta: [3, 8]
replicates: 2
methods: [mle]
mle:
  n_starts: 2
sbc:
  draws: 0
exact_check:
  per_cell: 0
  sbc: 0
"""


def snakemake(workdir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def snapshot(workdir: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and modification time of every file under ``results/``."""
    return {
        str(p.relative_to(workdir)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted((workdir / "results").rglob("*"))
        if p.is_file()
    }


def workflow_copy(path: Path) -> Path:
    shutil.copy(ROOT / "Snakefile", path / "Snakefile")
    shutil.copytree(ROOT / "workflow", path / "workflow")
    shutil.copytree(ROOT / "profiles", path / "profiles")
    return path


# ------------------------------------------------------------------ config values
# (id, the file given with --configfile on top of BASE, text that must be in the message)
CONFIG_VALUES = [
    (
        "typo_top_level_key",
        "replicate: 3\n",
        "bad.yaml, line 1, column 1: (top level): Additional properties are not allowed "
        "('replicate' was unexpected)",
    ),
    (
        "typo_nested_key",
        "sampler:\n  draw: 500\n",
        "bad.yaml, line 2, column 3: sampler: Additional properties are not allowed "
        "('draw' was unexpected)",
    ),
    (
        "alpha_above_1",
        "models:\n  rw:\n    grid:\n      alpha: [0.1, 1.5]\n      beta: [3, 8]\n",
        "bad.yaml, line 4, column 20: models -> rw -> grid -> alpha -> 1: 1.5 is greater "
        "than the maximum of 1",
    ),
    (
        "alpha_below_0",
        "models:\n  rw:\n    grid:\n      alpha: [-0.2]\n      beta: [3, 8]\n",
        "bad.yaml, line 4, column 15: models -> rw -> grid -> alpha -> 0: -0.2 is less "
        "than the minimum of 0",
    ),
    (
        "beta_zero",
        "models:\n  rw:\n    grid:\n      alpha: [0.4]\n      beta: [0]\n",
        "bad.yaml, line 5, column 14: models -> rw -> grid -> beta -> 0: 0 is less than "
        "or equal to the minimum of 0",
    ),
    (
        "beta_negative",
        "models:\n  rw:\n    grid:\n      alpha: [0.4]\n      beta: [2, -1]\n",
        "bad.yaml, line 5, column 17: models -> rw -> grid -> beta -> 1: -1 is less than "
        "or equal to the minimum of 0",
    ),
    (
        "empty_grid_list",
        "models:\n  rw:\n    grid:\n      alpha: []\n      beta: [3, 8]\n",
        "bad.yaml, line 4, column 7: models -> rw -> grid -> alpha: [] should be non-empty",
    ),
    (
        "grid_value_twice",
        "models:\n  rw:\n    grid:\n      alpha: [0.5, 0.5000000000001]\n      beta: [3, 8]\n",
        "bad.yaml, line 4, column 7: models -> rw -> grid -> alpha: [0.5, "
        "0.5000000000001] repeats values (equal to 12 significant digits): 0.5",
    ),
    (
        "grid_infinite",
        "models:\n  rw:\n    grid:\n      alpha: [0.4]\n      beta: [.inf]\n",
        "bad.yaml, line 5, column 14: models -> rw -> grid -> beta -> 0: inf is not a "
        "finite number",
    ),
    (
        "grid_not_a_list",
        "models:\n  rw:\n    grid:\n      alpha: 0.5\n      beta: [3, 8]\n",
        "bad.yaml, line 4, column 7: models -> rw -> grid -> alpha: 0.5 is not of type 'array'",
    ),
    (
        "number_in_quotes",
        "models:\n  rw:\n    grid:\n      alpha: [1e-3]\n      beta: [3, 8]\n",
        "bad.yaml, line 4, column 15: models -> rw -> grid -> alpha -> 0: '1e-3' is "
        "not of type 'number' (write numbers without quotes; in exponent form with a "
        "point, e.g. 1.0e-3)",
    ),
    (
        "unknown_model",
        "models:\n  rwx:\n    grid:\n      alpha: [0.4]\n",
        "bad.yaml, line 2, column 3: models: Additional properties are not allowed "
        "('rwx' was unexpected) (the library's models: bias, wsls, rw, ck, rwck, rw2)",
    ),
    (
        "parameter_typo",
        "models:\n  rw:\n    grid:\n      alpha: [0.4]\n      betta: [3]\n",
        "bad.yaml, line 5, column 7: models -> rw -> grid: Additional properties are "
        "not allowed ('betta' was unexpected)",
    ),
    (
        "prior_of_the_wrong_kind",
        "models:\n  rw:\n    grid:\n      alpha: [0.4]\n      beta: [3]\n"
        "    priors:\n      alpha: {sigma: 2}\n",
        "bad.yaml, line 7, column 15: models -> rw -> priors -> alpha: Additional "
        "properties are not allowed ('sigma' was unexpected)",
    ),
    (
        "grid_and_truths",
        "models:\n  rw:\n    grid:\n      alpha: [0.4]\n      beta: [3]\n"
        "    truths:\n      prior: 10\n",
        "bad.yaml, line 2, column 3: models -> rw: gives both `grid` and `truths`; give "
        "the true values either as `grid` (values of each parameter, every combination "
        "studied) or as `truths` (`{sobol: N, ranges: {...}}` or `{prior: N}`)",
    ),
    (
        "sobol_without_ranges",
        "models:\n  rwck:\n    truths:\n      sobol: 16\n",
        "bad.yaml, line 3, column 5: models -> rwck -> truths: `sobol` needs `ranges`, a "
        "[low, high] range of each parameter",
    ),
    (
        "sobol_range_reversed",
        "models:\n  ck:\n    truths:\n      sobol: 16\n      ranges:\n"
        "        alpha_c: [0.9, 0.1]\n        beta_c: [1, 5]\n",
        "bad.yaml, line 6, column 9: models -> ck -> truths -> ranges -> alpha_c: [0.9, "
        "0.1]: the low end must be below the high end",
    ),
    (
        "old_single_model_form",
        "grid:\n  alpha: [0.1, 0.5]\n  beta: [1, 5]\n",
        "bad.yaml, line 1, column 1: (top level): grid at the top level is the "
        "single-model form of rlrecover 0.1; a study now names its models",
    ),
    (
        "seed_text",
        "seed: abc\n",
        "bad.yaml, line 1, column 1: seed: 'abc' is not of type 'integer'",
    ),
    (
        "replicates_fraction",
        "replicates: 2.5\n",
        "bad.yaml, line 1, column 1: replicates: 2.5 is not of type 'integer'",
    ),
    (
        "replicates_0",
        "replicates: 0\n",
        "bad.yaml, line 1, column 1: replicates: 0 is less than the minimum of 1",
    ),
    (
        "n_trials_1",
        "task:\n  n_trials: 1\n",
        "bad.yaml, line 2, column 3: task -> n_trials: 1 is less than the minimum of 2",
    ),
    (
        "n_trials_list_with_1",
        "task:\n  n_trials: [30, 1]\n",
        "bad.yaml, line 2, column 18: task -> n_trials -> 1: 1 is less than the minimum of 2",
    ),
    (
        "reward_prob_above_1",
        "task:\n  reward_probs: [0.4, 1.2]\n",
        "bad.yaml, line 2, column 23: task -> reward_probs -> 1: 1.2 is greater than the "
        "maximum of 1",
    ),
    (
        "methods_not_a_list",
        "methods: mle\n",
        "bad.yaml, line 1, column 1: methods: 'mle' is not of type 'array'",
    ),
    (
        "method_unknown",
        "methods: [mle, vb]\n",
        "bad.yaml, line 1, column 16: methods -> 1: 'vb' is not one of",
    ),
    (
        "sampler_backend_unknown",
        "sampler:\n  backend: stan\n",
        "bad.yaml, line 2, column 3: sampler -> backend: 'stan' is not one of ['nutpie', 'pymc']",
    ),
    (
        "coverage_level_1",
        "coverage_levels: [0.5, 1.0]\n",
        "bad.yaml, line 1, column 24: coverage_levels -> 1: 1.0 is greater than or equal to "
        "the maximum of 1",
    ),
    (
        "coverage_level_0",
        "coverage_levels: [0, 0.9]\n",
        "bad.yaml, line 1, column 19: coverage_levels -> 0: 0 is less than or equal to the "
        "minimum of 0",
    ),
    (
        "sbc_batch_0",
        "sbc:\n  batch: 0\n",
        "bad.yaml, line 2, column 3: sbc -> batch: 0 is less than the minimum of 1",
    ),
]

# ------------------------------------------------------------------ config files
# (id, files to write (None: delete), command-line arguments, text that must be in the message)
BAD_FLOW = "models:\n  rw:\n    grid:\n      alpha: [0.1, 0.5\n      beta: [1]\n"
CONFIG_FILES = [
    (
        "config_yaml_bad_yaml",
        {"config.yaml": BASE.replace("alpha: [0.4]", "alpha: [0.4")},
        [],
        "config file config.yaml, line 8, column 11: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence that starts at line 7, column 14)",
    ),
    (
        "config_yaml_tab",
        {"config.yaml": BASE.replace("  n_trials", "\tn_trials")},
        [],
        "config file config.yaml, line 3, column 1: found character '\\t' that cannot start "
        "any token; indent with spaces, not tabs",
    ),
    (
        "config_yaml_empty",
        {"config.yaml": ""},
        [],
        "config file config.yaml is empty; it must hold `key: value` lines, at least `models:`",
    ),
    (
        "config_yaml_missing",
        {"config.yaml": None},
        [],
        "Workflow defines configfile config.yaml but it is not present or accessible",
    ),
    (
        "config_yaml_no_models",
        {
            "config.yaml": BASE.replace(
                "models:\n  rw:\n    grid:\n      alpha: [0.4]\n      beta: [3, 8]\n", ""
            )
        },
        [],
        "(top level): 'models' is a required property",
    ),
    (  # Snakemake reads --configfile before the Snakefile: its message, no position
        "configfile_bad_yaml",
        {"bad.yaml": BAD_FLOW},
        ["--configfile", "bad.yaml"],
        "Config file is not valid JSON or YAML",
    ),
    (  # ... which --verbose shows, in PyYAML's traceback
        "configfile_bad_yaml_verbose",
        {"bad.yaml": BAD_FLOW},
        ["--configfile", "bad.yaml", "--verbose"],
        "expected ',' or ']', but got ':'\n  in \"bad.yaml\", line 5, column 11",
    ),
    (
        "configfile_key_given_twice",
        {"bad.yaml": "seed: 1\nseed: 2\n"},
        ["--configfile", "bad.yaml"],
        "config file bad.yaml, line 2, column 1: key 'seed' is given twice (first at line 1, "
        "column 1); YAML would silently keep only the last",
    ),
    (
        "configfile_missing",
        {},
        ["--configfile", "nothere.yaml"],
        "FileNotFoundError: [Errno 2] No such file or directory: 'nothere.yaml'",
    ),
    (
        "configfile_a_list",
        {"bad.yaml": "- 1\n- 2\n"},
        ["--configfile", "bad.yaml"],
        "Config file must be given as JSON or YAML with keys at top level.",
    ),
    (
        "config_option_bad_yaml",
        {},
        ["--config", "models={rw: {grid: {alpha: [0.1"],
        "--config models={rw: {grid: {alpha: [0.1, column 32: expected ',' or ']', but got "
        "'<stream end>'",
    ),
    (
        "config_option_type",
        {},
        ["--config", "seed=abc"],
        "--config: seed: 'abc' is not of type 'integer'",
    ),
    (
        "config_option_range",
        {},
        ["--config", "models={rw: {grid: {alpha: [2], beta: [1]}}}"],
        "--config: models -> rw -> grid -> alpha -> 0: 2 is greater than the maximum of 1",
    ),
]


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    """A workflow copy with BASE and (stand-in) finished results."""
    workflow_copy(tmp_path)
    (tmp_path / "config.yaml").write_text(BASE)
    for name in ("recovery.tsv", "fits/rw/mle/trials~30/alpha~0.4/beta~3.tsv", "report.html"):
        path = tmp_path / "results" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"finished {name}\n")
    return tmp_path


def assert_refused(workdir: Path, before, proc, expected: str, allowed=()) -> None:
    """Non-zero exit, ``expected`` in the output, nothing in results/ changed but ``allowed``."""
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert expected in out, f"{expected!r} not in:\n{out}"
    after = snapshot(workdir)
    keys = (before.keys() | after.keys()) - set(allowed)
    changed = sorted(k for k in keys if before.get(k) != after.get(k))
    assert not changed, f"a run with bad input changed {changed}"


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in CONFIG_VALUES], ids=[c[0] for c in CONFIG_VALUES]
)
def test_invalid_config_value(finished, text, expected):
    (finished / "bad.yaml").write_text(text)
    before = snapshot(finished)
    proc = snakemake(finished, "--configfile", "bad.yaml")
    assert_refused(finished, before, proc, expected)
    assert "Invalid configuration in config.yaml, then bad.yaml (" in proc.stderr, proc.stderr
    assert "--config" not in proc.stderr.split("Invalid configuration")[1].split("\n")[0]


@pytest.mark.parametrize(
    ("files", "args", "expected"),
    [c[1:] for c in CONFIG_FILES],
    ids=[c[0] for c in CONFIG_FILES],
)
def test_invalid_config_file(finished, files, args, expected):
    for name, text in files.items():
        if text is None:
            (finished / name).unlink()
        else:
            (finished / name).write_text(text)
    before = snapshot(finished)
    proc = snakemake(finished, *args)
    assert_refused(finished, before, proc, expected)


def test_python_m_rlrecover_config_names_the_position(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD_FLOW)
    proc = subprocess.run(
        [sys.executable, "-m", "rlrecover.config", "bad.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        "config file bad.yaml, line 5, column 11: expected ',' or ']', but got ':'"
    ), proc.stderr
    (tmp_path / "config.yaml").write_text(BASE)
    (tmp_path / "over.yaml").write_text("sbc:\n  batch: 0\n")
    schema = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "rlrecover.config", "config.yaml", "over.yaml", "--schema", schema],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "over.yaml, line 2, column 3: sbc -> batch: 0 is less than the minimum" in proc.stderr


def test_nested_config_option_keeps_its_numbers(tmp_path):
    # Snakemake reads the numbers of a nested --config value as text; the Snakefile
    # reads them again as YAML.
    grid = "models={rw: {grid: {alpha: [0.1, 0.5], beta: [1.5]}}}"
    workflow_copy(tmp_path)
    (tmp_path / "config.yaml").write_text(BASE)
    proc = snakemake(tmp_path, "-n", "--quiet", "rules", "--config", grid)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^simulate\s+2$", proc.stdout + proc.stderr, flags=re.M), proc.stdout


# ------------------------------------------------------------------ damaged data files
DATA = "results/data/rw/trials~30/alpha~0.4/beta~8.tsv"
FITS = "results/fits/rw/mle/trials~30/alpha~0.4/beta~8.tsv"


def _action_2(lines):
    fields = lines[40].split("\t")  # model, replicate, trial, action, reward, truths
    return [*lines[:40], "\t".join([*fields[:3], "2", *fields[4:]]), *lines[41:]]


def _truth_edited(lines):
    fields = lines[5].split("\t")
    return [*lines[:5], "\t".join([*fields[:-1], "9\n"]), *lines[6:]]


# (id, damage applied to the lines of the data file, text that must be in the message)
DAMAGED = [
    (
        "cut_at_line_boundary",
        lambda lines: lines[:31],
        f"{DATA}: replicate 1 is missing (1 of 2 configured replicates are; a truncated file?)",
    ),
    (
        "cut_inside_replicate",
        lambda lines: lines[:50],
        f"{DATA}: replicate 1 has 19 rows with trials 1..19, expected trials 1..30",
    ),
    (
        "cut_mid_line",
        lambda lines: [*lines[:50], "\t".join(lines[50].split("\t")[:3])],
        f"{DATA}, line 51 (replicate 1): action is missing (a damaged or truncated file?)",
    ),
    (
        "action_2",
        _action_2,
        f"{DATA}: replicate 1, trial 10: action must be 0 or 1, got 2",
    ),
    (
        "wrong_header",
        lambda lines: [lines[0].replace("action", "choice"), *lines[1:]],
        f"{DATA}: columns ['model', 'replicate', 'trial', 'choice', 'reward', 'alpha_true', "
        "'beta_true'], expected ['model', 'replicate', 'trial', 'action', 'reward', "
        "'alpha_true', 'beta_true']",
    ),
    (
        "truth_edited",
        _truth_edited,
        f"{DATA}: replicate 0: beta_true is 9, the config says 8",
    ),
    (
        "empty_file",
        lambda lines: [],
        "No columns to parse from file",
    ),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    """BASE run to the end once; each test damages a copy of it."""
    workdir = workflow_copy(tmp_path_factory.mktemp("finished"))
    (workdir / "config.yaml").write_text(BASE)
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workdir


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "expected"), [c[1:] for c in DAMAGED], ids=[c[0] for c in DAMAGED]
)
def test_damaged_data_file_stops_before_deleting_its_fits(pipeline, tmp_path, damage, expected):
    workdir = tmp_path / "run"
    shutil.copytree(pipeline, workdir, symlinks=True)  # keeps modification times
    data = workdir / DATA
    data.write_text("".join(damage(data.read_text().splitlines(keepends=True))))
    before = snapshot(workdir)
    proc = snakemake(workdir)
    assert_refused(workdir, before, proc, expected)
    assert "Nothing was run or deleted" in proc.stderr
    assert FITS in proc.stderr  # the fits it keeps


@pytest.mark.slow
def test_damaged_data_file_without_fits_fails_its_fit_job(pipeline, tmp_path):
    # With no fits to keep (a new cell, or fits deleted), the fit job's own check fails
    # the job, and nothing downstream is rebuilt from the remaining cells.
    workdir = tmp_path / "run"
    shutil.copytree(pipeline, workdir, symlinks=True)
    (workdir / FITS).unlink()
    data = workdir / DATA
    data.write_text("".join(data.read_text().splitlines(keepends=True)[:50]))
    before = snapshot(workdir)
    proc = snakemake(workdir)
    assert_refused(
        workdir,
        before,
        proc,
        f"{DATA}: replicate 1 has 19 rows with trials 1..19, expected trials 1..30",
        allowed=["results/logs/fit_mle/rw/trials~30/alpha~0.4/beta~8.log"],  # the job's log
    )
    assert "Error in rule fit" in proc.stderr
