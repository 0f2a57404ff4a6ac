"""Parameter recovery of a Q-learning model of a two-armed bandit.

Run ``snakemake --cores N`` from this directory; edit ``config.yaml`` first.
"""

from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

import rlrecover.config as rlrecover_config

min_version("9.10")


# ---------------------------------------------------------------------------
# Config checks of rlrecover.config, reported as Snakemake errors
# ---------------------------------------------------------------------------


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



include: "workflow/rules/common.smk"


# A malformed config.yaml is reported with its line and column before Snakemake
# parses it (Snakemake's own message does not say where the problem is).
check_config_syntax("config.yaml")


configfile: "config.yaml"


# Stops with every invalid key and value listed, then fills in the defaults.
validate_workflow_config("workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


wildcard_constraints:
    alpha=NUMBER_REGEX,
    beta=NUMBER_REGEX,


include: "workflow/rules/simulate.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    default_target: True
    input:
        "results/recovery.tsv",
        TABLES.values(),
        PLOTS.values(),
        "results/report.html",
