"""The workflow config: checks, defaults, and typed settings built from it.

The JSON schema (``workflow/schemas/config.schema.yaml``) is the one source of the
defaults and allowed values: :func:`validate_config` lists every problem in a config
and fills in the schema's defaults, and the dataclasses here take every value from
that validated config (they have no defaults of their own).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from rlrecover.qlearning import PARAMS, Priors
from rlrecover.seeds import format_value

__all__ = [
    "ConfigError",
    "MLESettings",
    "SamplerSettings",
    "Settings",
    "TaskSettings",
    "check_yaml_syntax",
    "config_errors",
    "fill_defaults",
    "grid_errors",
    "load_schema",
    "schema_defaults",
    "validate_config",
]


class ConfigError(ValueError):
    """An invalid or unreadable config; the message names every problem."""


# --------------------------------------------------------------------------- checks


def load_schema(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the config's JSON schema (written as YAML).

    Parameters
    ----------
    path : path-like
        The schema file.

    Returns
    -------
    dict
    """
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def check_yaml_syntax(path: str | os.PathLike[str]) -> None:
    """Raise :class:`ConfigError` with the line and column if ``path`` is not valid YAML.

    A missing file is not an error here (Snakemake reports it).

    Parameters
    ----------
    path : path-like
        A config file.
    """
    if not os.path.exists(path):
        return
    try:
        with open(path, encoding="utf-8") as f:
            yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML:\n{e}") from None


def _error_location(error) -> str:
    return " -> ".join(str(p) for p in error.absolute_path) or "(top level)"


def _hint(error) -> str:
    """YAML reads ``1e-3`` as text; it needs a decimal point: ``1.0e-3``."""
    if error.validator == "type" and isinstance(error.instance, str):
        try:
            float(error.instance)
        except ValueError:
            return ""
        return " (write numbers without quotes; in exponent form with a point, e.g. 1.0e-3)"
    return ""


def config_errors(cfg: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every schema violation of ``cfg``, as ``"grid -> alpha -> 1: 1.5 is greater than ..."``.

    Parameters
    ----------
    cfg : object
        The config as read from YAML.
    schema : mapping
        The JSON schema.

    Returns
    -------
    list of str
        One message per problem, sorted by location; empty when ``cfg`` is valid.
    """
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path)))
    errors = [_meant(e) for e in errors]
    return [f"{_error_location(e)}: {e.message}{_hint(e)}" for e in errors]


def _meant(error):
    """The error itself; for "one of" a number or a list, the error of the branch meant.

    ``n_trials: 1`` is "not valid under any of the given schemas"; the useful message
    is the number branch's "1 is less than the minimum of 2" (and for ``[150, 1]``,
    at ``n_trials -> 1``).
    """
    if error.validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

        meant = [e for e in error.context if e.validator != "type"]
        if meant:
            return best_match(meant)
    return error


def grid_errors(cfg: Any) -> list[str]:
    """Checks the schema cannot express: finite grid values, distinct canonical values.

    Parameters
    ----------
    cfg : object
        The config as read from YAML.

    Returns
    -------
    list of str
        One message per problem.
    """
    messages = []
    grid = cfg.get("grid") if isinstance(cfg, Mapping) else None
    for param in PARAMS:
        values = grid.get(param) if isinstance(grid, Mapping) else None
        if not isinstance(values, list):
            continue
        labels = []
        for i, v in enumerate(values):
            if not isinstance(v, int | float) or isinstance(v, bool):
                continue  # reported by the schema
            if math.isfinite(v):
                labels.append(format_value(v))
            else:
                messages.append(f"grid -> {param} -> {i}: {v} is not a finite number")
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            messages.append(
                f"grid -> {param}: {values} repeats values (equal to 12 significant "
                f"digits): {', '.join(dupes)}"
            )
    return messages


def schema_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The config that the schema's defaults alone make (nested, keys with a default).

    Parameters
    ----------
    schema : mapping
        The JSON schema.

    Returns
    -------
    dict
    """
    return fill_defaults({}, schema)


def fill_defaults(cfg: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``cfg`` with every missing key that has a schema default filled in.

    Objects are filled recursively, including objects that were themselves filled
    from a default (``task: {}`` gets ``n_trials``, ``reward_probs``, ...).

    Parameters
    ----------
    cfg : mapping
        A config (valid against ``schema``).
    schema : mapping
        The JSON schema.

    Returns
    -------
    dict
    """
    out = copy.deepcopy(dict(cfg))
    for key, sub in schema.get("properties", {}).items():
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if isinstance(out.get(key), Mapping) and sub.get("type") == "object":
            out[key] = fill_defaults(out[key], sub)
    return out


def validate_config(
    cfg: Any, schema: Mapping[str, Any], sources: Sequence[str] = ("the config",)
) -> dict[str, Any]:
    """Check ``cfg`` against the schema and the grid rules; return it with defaults.

    Parameters
    ----------
    cfg : object
        The config as read from YAML.
    schema : mapping
        The JSON schema.
    sources : sequence of str
        Where the config came from (file names, ``--config``), for the message.

    Returns
    -------
    dict
        The config with every schema default filled in.

    Raises
    ------
    ConfigError
        Listing every problem as ``key -> key -> index: message``.
    """
    messages = config_errors(cfg, schema) + grid_errors(cfg)
    if messages:
        lines = "\n".join(f"  {m}" for m in messages)
        raise ConfigError(
            f"Invalid configuration in {', then '.join(sources)} "
            f"({len(messages)} problem(s); allowed values: comments in config.yaml "
            f"and workflow/schemas/config.schema.yaml):\n{lines}"
        )
    return fill_defaults(cfg, schema)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TaskSettings:
    """The bandit task: number of trials, reward probabilities, initial Q value."""

    n_trials: int
    reward_probs: tuple[float, float]
    q_init: float

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> TaskSettings:
        """From the validated ``task`` section of one job (one number of trials)."""
        n_trials = section["n_trials"]
        if isinstance(n_trials, list | tuple):
            raise ValueError(
                f"a job simulates or fits one number of trials, got task.n_trials {n_trials}"
            )
        return cls(
            n_trials=int(n_trials),
            reward_probs=tuple(float(p) for p in section["reward_probs"]),
            q_init=float(section["q_init"]),
        )


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings shared by both PyMC models.

    ``backend`` is ``"nutpie"`` (compiled once per process, data swapped per
    dataset) or ``"pymc"`` (``pm.sample``'s own NUTS).
    """

    backend: str
    chains: int
    tune: int
    draws: int
    target_accept: float

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> SamplerSettings:
        """From the validated ``sampler`` section."""
        return cls(
            backend=str(section["backend"]),
            chains=int(section["chains"]),
            tune=int(section["tune"]),
            draws=int(section["draws"]),
            target_accept=float(section["target_accept"]),
        )


@dataclass(frozen=True)
class MLESettings:
    """Maximum-likelihood settings: random starts and the scipy method."""

    n_starts: int
    method: str

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> MLESettings:
        """From the validated ``mle`` section."""
        return cls(n_starts=int(section["n_starts"]), method=str(section["method"]))


@dataclass(frozen=True)
class Settings:
    """Everything a simulation or fitting job needs, as plain values."""

    seed: int
    task: TaskSettings
    priors: Priors | None
    sampler: SamplerSettings | None
    mle: MLESettings | None
    coverage_levels: tuple[float, ...] | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Build settings from a config validated by :func:`validate_config`.

        Parameters
        ----------
        config : mapping
            The workflow config with its defaults filled in, or the subset of its
            sections that a job receives: ``seed`` and ``task`` always, and those of
            ``priors``, ``sampler``, ``mle``, ``coverage_levels`` the job uses (a job
            that does not receive a section gets None for it, so it cannot depend on
            it by accident).

        Returns
        -------
        Settings

        Raises
        ------
        KeyError
            If ``seed`` or ``task``, or a key of a given section, is missing (the
            config was not validated).
        """

        def optional(name, build):
            return build(config[name]) if name in config else None

        return cls(
            seed=int(config["seed"]),
            task=TaskSettings.from_config(config["task"]),
            priors=optional("priors", Priors.from_config),
            sampler=optional("sampler", SamplerSettings.from_config),
            mle=optional("mle", MLESettings.from_config),
            coverage_levels=optional("coverage_levels", lambda x: tuple(float(v) for v in x)),
        )
