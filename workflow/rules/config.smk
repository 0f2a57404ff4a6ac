"""The config checks of rlrecover.config, run before any job and reported as Snakemake errors.

Only functions: the Snakefile calls them before and after reading the config.
"""

from pathlib import Path

from snakemake.exceptions import WorkflowError

import rlrecover.config as rlrecover_config


def check_config_syntax(path):
    """Stop with the line and column if ``path`` exists but is not valid YAML."""
    try:
        rlrecover_config.check_yaml_syntax(path)
    except rlrecover_config.ConfigError as e:
        raise WorkflowError(str(e)) from None


def config_sources():
    """The config files (and --config) in the order they were applied."""
    cli = [str(f) for f in workflow.overwrite_configfiles]
    files = [str(f) for f in workflow.configfiles if str(f) not in cli] + cli
    if workflow.config_settings.overwrite_config:
        files.append("--config")
    return list(dict.fromkeys(files)) or ["the config"]


def validate_workflow_config(schema_path):
    """Check ``config`` against the schema, listing every problem; then fill defaults."""
    schema = rlrecover_config.load_schema(Path(workflow.basedir) / schema_path)
    try:
        validated = rlrecover_config.validate_config(config, schema, config_sources())
    except rlrecover_config.ConfigError as e:
        raise WorkflowError(str(e)) from None
    config.clear()
    config.update(validated)
