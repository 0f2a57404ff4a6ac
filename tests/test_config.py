"""rlrecover.config: checks, defaults from the schema, settings; and the Snakefile's use of them.

The workflow-level cases dry-run the workflow (a copy of Snakefile + workflow/ in a
temporary directory) with the interpreter running the tests, and check that Snakemake
exits with an error naming the offending key and value and creates no ``results/``.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rlrecover.config import (
    ConfigError,
    Settings,
    check_yaml_syntax,
    config_errors,
    fill_defaults,
    grid_errors,
    load_schema,
    schema_defaults,
    validate_config,
)

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
    assert "config file config.yaml, line 3, column 7: expected ',' or ']'" in out, out
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
    cells = 25 * 3  # 5 x 5 grid at 3 numbers of trials
    assert counts["simulate"] == cells
    # One MLE job, one sampling job (both PyMC models) and one summary job per cell.
    assert counts["fit_mle"] == counts["fit_bayes"] == counts["summarize"] == cells
    assert counts["exact"] == cells  # the first dataset of each cell is checked
    batches = 200 // 25
    assert counts["sbc_simulate"] == counts["sbc_fit_mle"] == counts["sbc_fit_bayes"] == batches
    assert counts["sbc_summarize"] == batches
    assert counts["sbc_exact"] == 2  # the first 50 SBC datasets: batches 0 and 1
    for rule in ("aggregate", "sbc_aggregate", "tables", "sbc_tables", "plots", "sbc_plots"):
        assert counts[rule] == 1, rule
    for rule in ("exact_table", "html_report", "all"):
        assert counts[rule] == 1, rule
    assert not (workdir / "results").exists()


def _flatten(cfg, prefix=""):
    """``{"task.n_trials": 150, ...}``: every leaf of a nested config."""
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_config_yaml_and_schema_defaults_agree_key_by_key():
    shipped = _flatten(yaml.safe_load(CONFIG.read_text()))
    defaults = _flatten(schema_defaults(load_schema(SCHEMA)))
    # Every schema default is written in config.yaml with the same value ...
    for key, value in defaults.items():
        assert key in shipped, f"config.yaml lacks {key} (schema default {value!r})"
        assert shipped[key] == value, f"{key}: config.yaml {shipped[key]!r}, schema {value!r}"
    # ... and config.yaml sets nothing else but the grid, which has no default.
    extra = sorted(k for k in shipped if k not in defaults)
    assert extra == ["grid.alpha", "grid.beta"], extra


def test_config_yaml_is_valid_and_unchanged_by_validation():
    config = yaml.safe_load(CONFIG.read_text())
    assert validate_config(config, load_schema(SCHEMA)) == config


def test_settings_take_every_value_from_the_validated_config():
    schema = load_schema(SCHEMA)
    cfg = validate_config(
        {
            "grid": {"alpha": [0.5], "beta": [5]},
            "seed": 3,
            "task": {"n_trials": 77, "q_init": 0.25},
            "priors": {"beta": {"sigma": 4}},
            "sampler": {"draws": 321, "backend": "pymc"},
            "mle": {"method": "BFGS"},
            "coverage_levels": [0.7],
        },
        schema,
    )
    s = Settings.from_config(cfg)
    assert (s.seed, s.task.n_trials, s.task.q_init, s.task.reward_probs) == (
        3,
        77,
        0.25,
        (0.4, 0.6),
    )
    assert (s.priors.alpha_a, s.priors.alpha_b, s.priors.beta_sigma) == (1.0, 1.0, 4.0)
    assert (s.sampler.backend, s.sampler.draws, s.sampler.tune, s.sampler.chains) == (
        "pymc",
        321,
        1000,
        4,
    )
    assert (s.mle.method, s.mle.n_starts, s.coverage_levels) == ("BFGS", 5, (0.7,))


def test_settings_need_a_validated_config():
    with pytest.raises(KeyError, match="task"):
        Settings.from_config({"seed": 1})


def test_fill_defaults_fills_nested_objects_and_keeps_given_values():
    schema = load_schema(SCHEMA)
    cfg = {"grid": {"alpha": [0.5], "beta": [5]}, "task": {"n_trials": 9}}
    filled = fill_defaults(cfg, schema)
    assert filled["task"] == {"n_trials": 9, "reward_probs": [0.4, 0.6], "q_init": 0.5}
    assert filled["priors"] == {"alpha": {"a": 1, "b": 1}, "beta": {"sigma": 10}}
    assert cfg == {"grid": {"alpha": [0.5], "beta": [5]}, "task": {"n_trials": 9}}  # a copy


def test_validate_config_lists_every_problem_with_its_source():
    schema = load_schema(SCHEMA)
    bad = {"grid": {"alpha": [1.5], "beta": [0]}, "sampler": {"draw": 5}}
    with pytest.raises(ConfigError) as err:
        validate_config(bad, schema, ["my.yaml"])
    text = str(err.value)
    assert "Invalid configuration in my.yaml (3 problem(s)" in text
    assert "grid -> alpha -> 0: 1.5 is greater than the maximum of 1" in text
    assert "grid -> beta -> 0: 0 is less than or equal to the minimum of 0" in text
    assert "sampler: Additional properties are not allowed ('draw' was unexpected)" in text


def test_quoted_number_gets_a_hint():
    msgs = config_errors({"grid": {"alpha": ["1e-3"], "beta": [1]}}, load_schema(SCHEMA))
    assert len(msgs) == 1 and "write numbers without quotes" in msgs[0], msgs


def test_grid_errors_catch_what_the_schema_cannot():
    cfg = {"grid": {"alpha": [0.5, 0.5000000000001], "beta": [float("inf"), 2]}}
    msgs = grid_errors(cfg)
    assert "grid -> beta -> 0: inf is not a finite number" in msgs
    assert any(m.startswith("grid -> alpha:") and "repeats values" in m for m in msgs), msgs
    assert grid_errors({"grid": {"alpha": [0.1, 0.2], "beta": [1]}}) == []


def test_check_yaml_syntax_names_line_and_column(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("grid: {alpha: [0.1], beta: [1]}\n")
    check_yaml_syntax(good)
    check_yaml_syntax(tmp_path / "missing.yaml")  # Snakemake reports a missing file
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid:\n  alpha: [0.1, 0.5\n  beta: [1]\n")
    with pytest.raises(ConfigError, match=r"^config file my.yaml, line 3, column 7: expected"):
        check_yaml_syntax(bad, "my.yaml")
    twice = tmp_path / "twice.yaml"
    twice.write_text("grid: {alpha: [0.1], beta: [1]}\nseed: 1\nseed: 2\n")
    with pytest.raises(ConfigError, match=r"line 3, column 1: key 'seed' is given twice"):
        check_yaml_syntax(twice)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    with pytest.raises(ConfigError, match=r"list.yaml holds a list; it must hold `key: value`"):
        check_yaml_syntax(listed)


def test_problems_name_the_source_line_and_column(tmp_path):
    from rlrecover.config import ConfigSource

    base = tmp_path / "base.yaml"
    base.write_text("grid:\n  alpha: [0.1]\n  beta: [1]\nreplicates: 3\n")
    mine = tmp_path / "mine.yaml"
    mine.write_text("seed: 4\ngrid:\n  alpha: [0.2, 1.5]\nsampler:\n  draw: 5\n")
    sources = [
        ConfigSource("base.yaml", yaml.safe_load(base.read_text()), str(base)),
        ConfigSource("mine.yaml", yaml.safe_load(mine.read_text()), str(mine)),
        ConfigSource("--config", {"replicates": 0}),
    ]
    merged = {
        "seed": 4,
        "grid": {"alpha": [0.2, 1.5], "beta": [1]},
        "replicates": 0,
        "sampler": {"draw": 5},
    }
    with pytest.raises(ConfigError) as err:
        validate_config(merged, load_schema(SCHEMA), sources)
    text = str(err.value)
    assert "Invalid configuration in base.yaml, then mine.yaml, then --config (3 problem" in text
    assert "  mine.yaml, line 3, column 16: grid -> alpha -> 1: 1.5 is greater" in text
    assert "  --config: replicates: 0 is less than the minimum of 1" in text
    assert "  mine.yaml, line 5, column 3: sampler: Additional properties" in text


def test_schema_rejects_cases_directly():
    from jsonschema import Draft202012Validator

    schema = yaml.safe_load(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    base = yaml.safe_load(CONFIG.read_text())
    assert not config_errors(base, schema)
    for _, override, _ in INVALID:
        cfg = copy.deepcopy(base)
        for key, value in override.items():
            if isinstance(value, dict) and key != "grid":
                cfg[key].update(value)
            else:
                cfg[key] = value
        assert config_errors(cfg, schema), override
