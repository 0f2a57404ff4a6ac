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
    full_schema,
    grid_errors,
    load_schema,
    old_form_message,
    schema_defaults,
    validate_config,
)
from rlrecover.truths import model_truths

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


def rw(grid=None, **entry):
    """``{"models": {"rw": {...}}}`` with ``grid`` (default :data:`GRID`)."""
    return {"models": {"rw": {"grid": GRID if grid is None else grid, **entry}}}


# (id, config overriding config.yaml, words that must appear in the message)
INVALID = [
    ("alpha_above_1", rw({"alpha": [0.1, 1.5], "beta": [1]}), ["alpha", "1.5"]),
    ("alpha_below_0", rw({"alpha": [-0.2], "beta": [1]}), ["alpha", "-0.2"]),
    ("beta_zero", rw({"alpha": [0.5], "beta": [0]}), ["beta", "0 is less than"]),
    ("beta_negative", rw({"alpha": [0.5], "beta": [2, -1]}), ["beta", "-1"]),
    ("n_trials_1", {**rw(), "task": {"n_trials": 1}}, ["n_trials", "1 is less than"]),
    (
        "reward_prob_1.2",
        {**rw(), "task": {"reward_probs": [0.4, 1.2]}},
        ["reward_probs", "1.2"],
    ),
    (
        "reward_probs_one",
        {**rw(), "task": {"reward_probs": [0.5]}},
        ["reward_probs", "[0.5]", "too short"],
    ),
    ("method_vb", {**rw(), "methods": ["mle", "vb"]}, ["methods", "'vb'"]),
    ("replicates_0", {**rw(), "replicates": 0}, ["replicates", "0 is less than"]),
    ("level_1.0", {**rw(), "coverage_levels": [0.5, 1.0]}, ["coverage_levels", "1.0"]),
    (
        "level_0",
        {**rw(), "coverage_levels": [0, 0.9]},
        ["coverage_levels", "0 is less than or equal"],
    ),
    ("typo_key", {**rw(), "sampler": {"draw": 500}}, ["sampler", "'draw'"]),
    ("unknown_model", {"models": {"rwx": {"grid": GRID}}}, ["'rwx' was unexpected", "rwck"]),
    (
        "parameter_of_another_model",
        rw({"alpha": [0.5], "beta_c": [1]}),
        ["models -> rw -> grid", "'beta_c' was unexpected"],
    ),
    (
        "prior_of_unit_parameter",
        rw(priors={"alpha": {"sigma": 2}}),
        ["models -> rw -> priors -> alpha", "'sigma' was unexpected"],
    ),
    (
        "sobol_without_ranges",
        {"models": {"ck": {"truths": {"sobol": 8}}}},
        ["models -> ck -> truths", "`sobol` needs `ranges`"],
    ),
    (
        "grid_and_truths",
        rw(truths={"prior": 5}),
        ["models -> rw", "gives both `grid` and `truths`"],
    ),
    ("old_form", {"grid": GRID}, ["single-model form", "models:", "rw:", "alpha: [0.1, 0.5]"]),
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
    (workdir / "config.yaml").write_text(
        "models:\n  rw:\n    grid:\n      alpha: [0.1, 0.5\n      beta: [1]\n"
    )
    proc = dry_run(workdir)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "config file config.yaml, line 5, column 11: expected ',' or ']'" in out, out
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
    for rule in ("aggregate", "sbc_aggregate", "tables_rw", "sbc_tables", "plots_rw"):
        assert counts[rule] == 1, rule
    for rule in ("sbc_plots", "exact_table", "summary_table", "html_report", "all"):
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
    config = yaml.safe_load(CONFIG.read_text())
    shipped = _flatten(config)
    schema = load_schema(SCHEMA)
    grid_only = {"models": {"rw": {"grid": config["models"]["rw"]["grid"]}}}
    defaults = _flatten(fill_defaults(grid_only, full_schema(schema)))
    # Every schema default is written in config.yaml with the same value ...
    for key, value in defaults.items():
        assert key in shipped, f"config.yaml lacks {key} (schema default {value!r})"
        assert shipped[key] == value, f"{key}: config.yaml {shipped[key]!r}, schema {value!r}"
    # ... and config.yaml sets nothing else (the grid has no default).
    assert sorted(k for k in shipped if k not in defaults) == []
    assert "models" not in schema_defaults(schema)


def test_config_yaml_is_valid_and_unchanged_by_validation():
    config = yaml.safe_load(CONFIG.read_text())
    assert validate_config(config, load_schema(SCHEMA)) == config


def test_settings_take_every_value_from_the_validated_config():
    schema = load_schema(SCHEMA)
    cfg = validate_config(
        {
            "models": {
                "rw": {"grid": {"alpha": [0.5], "beta": [5]}, "priors": {"beta": {"sigma": 4}}}
            },
            "seed": 3,
            "task": {"n_trials": 77, "q_init": 0.25},
            "sampler": {"draws": 321, "backend": "pymc"},
            "mle": {"method": "BFGS"},
            "coverage_levels": [0.7],
        },
        schema,
    )
    job = {k: v for k, v in cfg.items() if k != "models"}
    job.update(model="rw", priors=cfg["models"]["rw"]["priors"])
    s = Settings.from_config(job)
    assert (s.seed, s.task.n_trials, s.task.q_init, s.task.reward_probs) == (
        3,
        77,
        0.25,
        (0.4, 0.6),
    )
    assert s.model.name == "rw" and s.task.consts == {"q_init": 0.25}
    assert (s.priors["alpha"].a, s.priors["alpha"].b, s.priors["beta"].sigma) == (1.0, 1.0, 4.0)
    assert (s.sampler.backend, s.sampler.draws, s.sampler.tune, s.sampler.chains) == (
        "pymc",
        321,
        1000,
        4,
    )
    assert (s.mle.method, s.mle.n_starts, s.coverage_levels) == ("BFGS", 5, (0.7,))


def test_settings_need_a_validated_config():
    with pytest.raises(KeyError, match="model"):
        Settings.from_config({"seed": 1})


def test_fill_defaults_fills_nested_objects_and_keeps_given_values():
    schema = load_schema(SCHEMA)
    cfg = {"models": {"rwck": {"truths": {"prior": 4}}}, "task": {"n_trials": 9}}
    filled = fill_defaults(cfg, full_schema(schema))
    assert filled["task"] == {"n_trials": 9, "reward_probs": [0.4, 0.6], "q_init": 0.5}
    entry = filled["models"]["rwck"]
    assert entry["priors"] == {
        "alpha": {"a": 1, "b": 1},
        "beta": {"sigma": 10},
        "alpha_c": {"a": 1, "b": 1},
        "beta_c": {"sigma": 10},
    }
    targets = {"alpha": 0.1, "beta": 0.25, "alpha_c": 0.1, "beta_c": 0.25}
    assert entry["design"]["rmse_target"] == targets
    assert "replicates" not in entry  # the top-level replicates apply
    assert cfg == {"models": {"rwck": {"truths": {"prior": 4}}}, "task": {"n_trials": 9}}


def test_validate_config_lists_every_problem_with_its_source():
    schema = load_schema(SCHEMA)
    bad = rw({"alpha": [1.5], "beta": [0]})
    bad["sampler"] = {"draw": 5}
    with pytest.raises(ConfigError) as err:
        validate_config(bad, schema, ["my.yaml"])
    text = str(err.value)
    assert "Invalid configuration in my.yaml (3 problem(s)" in text
    assert "models -> rw -> grid -> alpha -> 0: 1.5 is greater than the maximum of 1" in text
    assert "models -> rw -> grid -> beta -> 0: 0 is less than or equal to the minimum of 0" in text
    assert "sampler: Additional properties are not allowed ('draw' was unexpected)" in text


def test_quoted_number_gets_a_hint():
    msgs = config_errors(rw({"alpha": ["1e-3"], "beta": [1]}), load_schema(SCHEMA))
    assert len(msgs) == 1 and "write numbers without quotes" in msgs[0], msgs


def test_grid_errors_catch_what_the_schema_cannot():
    cfg = rw({"alpha": [0.5, 0.5000000000001], "beta": [float("inf"), 2]})
    msgs = grid_errors(cfg)
    assert "models -> rw -> grid -> beta -> 0: inf is not a finite number" in msgs
    assert any(
        m.startswith("models -> rw -> grid -> alpha:") and "repeats values" in m for m in msgs
    ), msgs
    assert grid_errors(rw({"alpha": [0.1, 0.2], "beta": [1]})) == []
    ranges = {"alpha_c": [0.9, 0.1], "beta_c": [1, 5]}
    msgs = grid_errors({"models": {"ck": {"truths": {"sobol": 4, "ranges": ranges}}}})
    assert msgs == [
        "models -> ck -> truths -> ranges -> alpha_c: [0.9, 0.1]: the low end must be "
        "below the high end"
    ]
    msgs = grid_errors({"models": {"ck": {"truths": {"prior": 4, "ranges": ranges}}}})
    assert "`ranges` belong to `sobol`" in msgs[0]
    assert "neither `grid` nor `truths`" in grid_errors({"models": {"ck": {}}})[0]


def test_an_old_config_shows_its_new_form():
    old = {
        "grid": GRID,
        "priors": {"beta": {"sigma": 3}},
        "design": {"rmse_target": {"alpha": 0.2}},
    }
    text = old_form_message(old)
    assert "grid, priors, design -> rmse_target at the top level" in text
    new = yaml.safe_load(text[text.index("models:") :])
    assert new == {
        "models": {
            "rw": {
                "grid": GRID,
                "priors": {"beta": {"sigma": 3}},
                "design": {"rmse_target": {"alpha": 0.2}},
            }
        }
    }
    assert old_form_message(rw()) is None
    with pytest.raises(ConfigError, match="single-model form"):
        validate_config(old, load_schema(SCHEMA))


def test_truths_of_every_design():
    from rlrecover import models

    schema = load_schema(SCHEMA)
    ranges = {
        "alpha": [0.05, 0.95],
        "beta": [0.5, 20],
        "alpha_c": [0.05, 0.95],
        "beta_c": [0.5, 10],
    }
    cfg = validate_config(
        {
            "models": {
                "rw": {"grid": {"alpha": [0.1, 0.3], "beta": [1, 2.5, 5]}},
                "rwck": {"truths": {"sobol": 64, "ranges": ranges}},
                "wsls": {"truths": {"prior": 50}},
            }
        },
        schema,
    )
    grid = model_truths(models.get("rw"), cfg["models"]["rw"], 1)
    assert grid[:2] == [{"alpha": 0.1, "beta": 1.0}, {"alpha": 0.1, "beta": 2.5}]
    assert len(grid) == 6
    rwck = models.get("rwck")
    sobol = model_truths(rwck, cfg["models"]["rwck"], 1)
    assert len(sobol) == 64 and sobol == model_truths(rwck, cfg["models"]["rwck"], 1)
    assert sobol != model_truths(rwck, cfg["models"]["rwck"], 2)  # seeded by the seed
    for p in rwck.param_names:
        values = sorted(t[p] for t in sobol)
        lo, hi = ranges[p]
        assert lo <= values[0] and values[-1] <= hi
        # Sobol points are balanced: each quarter of the (log) range holds 16 of 64.
        scale = __import__("math").log if rwck.param(p).log_scale else float
        edges = [scale(lo) + k * (scale(hi) - scale(lo)) / 4 for k in range(5)]
        counts = [sum(edges[k] <= scale(v) < edges[k + 1] for v in values) for k in range(4)]
        assert counts == [16, 16, 16, 16], (p, counts)
    prior = model_truths(models.get("wsls"), cfg["models"]["wsls"], 1)
    assert len(prior) == 50 and all(0 <= t["epsilon"] <= 1 for t in prior)
    # values have the 12 significant digits of the cell labels
    from rlrecover.seeds import format_value

    assert all(float(format_value(t["epsilon"])) == t["epsilon"] for t in prior)


def test_check_yaml_syntax_names_line_and_column(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("models: {rw: {grid: {alpha: [0.1], beta: [1]}}}\n")
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
    base.write_text(
        "models:\n  rw:\n    grid:\n      alpha: [0.1]\n      beta: [1]\nreplicates: 3\n"
    )
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "seed: 4\nmodels:\n  rw:\n    grid:\n      alpha: [0.2, 1.5]\nsampler:\n  draw: 5\n"
    )
    sources = [
        ConfigSource("base.yaml", yaml.safe_load(base.read_text()), str(base)),
        ConfigSource("mine.yaml", yaml.safe_load(mine.read_text()), str(mine)),
        ConfigSource("--config", {"replicates": 0}),
    ]
    merged = {
        "seed": 4,
        "models": {"rw": {"grid": {"alpha": [0.2, 1.5], "beta": [1]}}},
        "replicates": 0,
        "sampler": {"draw": 5},
    }
    with pytest.raises(ConfigError) as err:
        validate_config(merged, load_schema(SCHEMA), sources)
    text = str(err.value)
    assert "Invalid configuration in base.yaml, then mine.yaml, then --config (3 problem" in text
    assert "  mine.yaml, line 5, column 20: models -> rw -> grid -> alpha -> 1: 1.5" in text
    assert "  --config: replicates: 0 is less than the minimum of 1" in text
    assert "  mine.yaml, line 7, column 3: sampler: Additional properties" in text


def test_schema_rejects_cases_directly():
    from jsonschema import Draft202012Validator

    schema = yaml.safe_load(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    base = yaml.safe_load(CONFIG.read_text())
    assert not config_errors(base, schema)
    for name, override, _ in INVALID:
        if name in ("grid_and_truths", "sobol_without_ranges", "old_form"):
            continue  # checked by grid_errors and old_form_message, not the schema
        cfg = copy.deepcopy(base)
        for key, value in override.items():
            if isinstance(value, dict) and key != "models":
                cfg[key].update(value)
            else:
                cfg[key] = value
        assert config_errors(cfg, schema), override
