"""The config checks of rlrecover.config, run before any job and reported as Snakemake errors.

Only functions: the Snakefile calls them before and after reading the config.

Snakemake reads ``--configfile`` files itself before the Snakefile runs; one that is
not valid YAML stops it there with "Config file is not valid JSON or YAML" and no
position (``--verbose`` shows PyYAML's line and column in the traceback). Every file
that gets past that, and ``config.yaml``, which the Snakefile reads, is checked here.
"""

import copy
import os
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config

import rlrecover.config as rlrecover_config


def shown_path(path):
    """``path`` relative to the working directory if it is inside it, else as given."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def cli_configfiles():
    """The ``--configfile`` files, in the order given."""
    return [str(f) for f in workflow.overwrite_configfiles]


def config_overrides():
    """The ``key=value`` arguments of ``--config``, as given (empty without ``--config``)."""
    args = workflow.config_settings.config_args
    return [str(a) for a in args] if isinstance(args, (list, tuple)) else []


def check_config_files(default):
    """Stop naming the file, line and column if a config file or --config value is malformed.

    ``default`` is the Snakefile's ``configfile:``; every ``--configfile`` is checked
    too (for what Snakemake's own reading lets through: a top level that is not
    ``key: value`` pairs, a key given twice).
    """
    try:
        for path in [default, *cli_configfiles()]:
            rlrecover_config.check_yaml_syntax(path, shown_path(path))
        rlrecover_config.parse_overrides(config_overrides())
    except rlrecover_config.ConfigError as e:
        raise WorkflowError(str(e)) from None


def config_sources():
    """What the config was merged from, in order: files read, then --config if given."""
    cli = cli_configfiles()
    files = [str(f) for f in workflow.configfiles if str(f) not in cli] + cli
    sources = []
    for path in dict.fromkeys(files):
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        sources.append(rlrecover_config.ConfigSource(shown_path(path), data, path))
    if workflow.config_settings.config:
        overrides = dict(workflow.config_settings.config)
        overrides.update(rlrecover_config.parse_overrides(config_overrides()))
        sources.append(rlrecover_config.ConfigSource("--config", overrides))
    return sources or ["the config"]


def validate_workflow_config(schema_path):
    """Check ``config`` against the schema, listing every problem; then fill defaults.

    Nested ``--config`` values (``models={rw: {grid: {alpha: [0.1], beta: [1]}}}``),
    which Snakemake reads with every number as text, are read again as YAML first.

    ``models`` is the one section that is not merged key by key: the last source that
    gives it (``config.yaml``, a ``--configfile``, ``--config``) names the study's
    models, so ``--configfile mine.yaml`` with ``models: {rwck: ...}`` studies rwck
    alone, not rwck and ``config.yaml``'s rw.
    """
    schema = rlrecover_config.load_schema(Path(workflow.basedir) / schema_path)
    try:
        update_config(config, rlrecover_config.parse_overrides(config_overrides()))
        sources = config_sources()
        given = [
            s.data["models"]
            for s in sources
            if isinstance(s, rlrecover_config.ConfigSource)
            and isinstance(s.data, dict)
            and isinstance(s.data.get("models"), dict)
        ]
        if given:
            config["models"] = copy.deepcopy(given[-1])
        validated = rlrecover_config.validate_config(config, schema, sources)
    except rlrecover_config.ConfigError as e:
        raise WorkflowError(str(e)) from None
    config.clear()
    config.update(validated)
