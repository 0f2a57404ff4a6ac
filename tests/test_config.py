"""The config schema: invalid configs stop Snakemake before any job, defaults are filled.

Each invalid case dry-runs the workflow (a copy of Snakefile + workflow/ in a temporary
directory) with the interpreter running the tests, and checks that Snakemake exits
with an error naming the offending key and value and creates no ``results/``.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = ROOT / "config.yaml"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of the workflow with the repository's config.yaml."""
    shutil.copy(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copy(CONFIG, tmp_path / "config.yaml")
    return tmp_path


def dry_run(workdir: Path, *args: str, quiet: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--directory",
            str(workdir),
            "-s",
            str(workdir / "Snakefile"),
            *(["--quiet", "rules"] if quiet else []),
            *args,
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )


GRID = {"alpha": [0.1, 0.5], "beta": [1, 5]}

# (id, config overriding config.yaml, words that must appear in the message)
INVALID = [
    ("alpha_above_1", {"grid": {"alpha": [0.1, 1.5], "beta": [1]}}, ["alpha", "1.5"]),
    ("alpha_below_0", {"grid": {"alpha": [-0.2], "beta": [1]}}, ["alpha", "-0.2"]),
    ("beta_zero", {"grid": {"alpha": [0.5], "beta": [0]}}, ["beta", "0 is less than"]),
    ("beta_negative", {"grid": {"alpha": [0.5], "beta": [2, -1]}}, ["beta", "-1"]),
    ("n_trials_1", {"grid": GRID, "task": {"n_trials": 1}}, ["n_trials", "1 is less than"]),
    (
        "reward_prob_1.2",
        {"grid": GRID, "task": {"reward_probs": [0.4, 1.2]}},
        ["reward_probs", "1.2"],
    ),
    (
        "reward_probs_one",
        {"grid": GRID, "task": {"reward_probs": [0.5]}},
        ["reward_probs", "[0.5]", "too short"],
    ),
    ("method_vb", {"grid": GRID, "methods": ["mle", "vb"]}, ["methods", "'vb'"]),
    ("replicates_0", {"grid": GRID, "replicates": 0}, ["replicates", "0 is less than"]),
    ("level_1.0", {"grid": GRID, "coverage_levels": [0.5, 1.0]}, ["coverage_levels", "1.0"]),
    (
        "level_0",
        {"grid": GRID, "coverage_levels": [0, 0.9]},
        ["coverage_levels", "0 is less than or equal"],
    ),
    ("typo_key", {"grid": GRID, "sampler": {"draw": 500}}, ["sampler", "'draw'"]),
]


@pytest.mark.parametrize(
    ("override", "words"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_config_stops_before_any_job(workdir, override, words):
    (workdir / "bad.yaml").write_text(yaml.safe_dump(override))
    proc = dry_run(workdir, "--configfile", str(workdir / "bad.yaml"))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Invalid configuration" in out, out
    for word in words:
        assert word in out, f"{word!r} not in:\n{out}"
    assert not (workdir / "results").exists()


def test_malformed_config_yaml_names_the_position(workdir):
    (workdir / "config.yaml").write_text("grid:\n  alpha: [0.1, 0.5\n  beta: [1]\n")
    proc = dry_run(workdir)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "config.yaml is not valid YAML" in out, out
    assert "line" in out and "column" in out, out
    assert not (workdir / "results").exists()


def test_malformed_configfile_option_stops(workdir):
    (workdir / "bad.yaml").write_text("grid: {alpha: [0.1, beta: [1]\n")
    proc = dry_run(workdir, "--configfile", str(workdir / "bad.yaml"))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "not valid JSON or YAML" in out, out
    assert not (workdir / "results").exists()


def test_default_config_dry_run_lists_every_job(workdir):
    proc = dry_run(workdir, quiet=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    stats = out[out.index("Job stats:") :]
    counts = {}
    for line in stats.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    assert counts["simulate"] == 25
    assert counts["fit"] == 25  # one job per cell fits every method
    for rule in ("aggregate", "tables", "plots", "html_report", "all"):
        assert counts[rule] == 1
    assert not (workdir / "results").exists()


def _validate(cfg: dict) -> dict:
    from snakemake.utils import validate

    cfg = copy.deepcopy(cfg)
    validate(cfg, str(SCHEMA))
    return cfg


def test_config_yaml_is_valid_and_shows_the_defaults():
    config = yaml.safe_load(CONFIG.read_text())
    assert _validate(config) == config
    # Every default of the schema is the value written in config.yaml.
    filled = _validate({"grid": config["grid"]})
    assert filled == config


def test_defaults_agree_with_settings():
    from rlrecover.config import Settings

    filled = _validate({"grid": {"alpha": [0.5], "beta": [5]}})
    assert Settings.from_config(filled) == Settings()


def test_schema_rejects_cases_directly():
    from jsonschema import Draft202012Validator

    schema = yaml.safe_load(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    base = yaml.safe_load(CONFIG.read_text())
    assert not list(validator.iter_errors(base))
    for _, override, _ in INVALID:
        cfg = copy.deepcopy(base)
        for key, value in override.items():
            if isinstance(value, dict) and key != "grid":
                cfg[key].update(value)
            else:
                cfg[key] = value
        assert list(validator.iter_errors(cfg)), override
