"""The workflow config: checks, defaults, and typed settings built from it.

The JSON schema (``workflow/schemas/config.schema.yaml``) is the one source of the
defaults and allowed values: :func:`validate_config` lists every problem in a config
and fills in the schema's defaults, and the dataclasses here take every value from
that validated config (they have no defaults of their own).

The ``models`` section names the models of a study. Its schema is made from the
library (:func:`full_schema`): one entry per model of :mod:`rlrecover.models`, whose
parameters' values, priors and targets follow the templates of the schema file's
``$defs`` by the parameter's kind, so a model added to the library is configurable
without touching the schema file and a misspelt model or parameter name is reported.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from rlrecover import models as model_library
from rlrecover.models.base import Model, Priors
from rlrecover.seeds import format_value

__all__ = [
    "ConfigError",
    "ConfigSource",
    "MLESettings",
    "SamplerSettings",
    "Settings",
    "TaskSettings",
    "check_yaml_syntax",
    "config_errors",
    "fill_defaults",
    "full_schema",
    "grid_errors",
    "load_schema",
    "model_schema",
    "old_form_message",
    "parse_overrides",
    "schema_defaults",
    "validate_config",
    "yaml_error_message",
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


def _position(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def yaml_error_message(error: yaml.YAMLError, where: str) -> str:
    """``"config file my.yaml, line 3, column 7: expected ',' or ']' ..."`` from PyYAML's error.

    Parameters
    ----------
    error : yaml.YAMLError
        The parser's error (with marks when it has them).
    where : str
        What was read, e.g. ``"config file my.yaml"`` or ``"--config grid=..."``.

    Returns
    -------
    str
    """
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return f"{where}: {problem}"
    text = f"{where}, {_position(mark)}: {problem}"
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark is not None:
        text += f" ({context} that starts at {_position(context_mark)})"
    if "'\\t'" in problem:
        text += "; indent with spaces, not tabs"
    return text


def _duplicate_keys(node, found: list[str]) -> None:
    """Append a message for every mapping key written twice (YAML keeps the last silently)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, Any] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None and name in seen:
                found.append(
                    f"{_position(key.start_mark)}: key {name!r} is given twice (first at "
                    f"{_position(seen[name])}); YAML would silently keep only the last"
                )
            elif name is not None:
                seen[name] = key.start_mark
            _duplicate_keys(value, found)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _duplicate_keys(item, found)


def check_yaml_syntax(path: str | os.PathLike[str], name: str | None = None) -> None:
    """Raise :class:`ConfigError` naming the file, line and column unless ``path`` is a config.

    A config file must be valid YAML, hold ``key: value`` pairs at the top level, and
    give no key twice in one mapping. A missing file is not an error here (Snakemake
    reports it).

    Parameters
    ----------
    path : path-like
        A config file.
    name : str, optional
        How to call the file in the message (default: ``path``).
    """
    if not os.path.exists(path):
        return
    where = f"config file {name or path}"
    try:
        with open(path, encoding="utf-8") as f:
            node = yaml.compose(f, Loader=yaml.SafeLoader)
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(yaml_error_message(e, where)) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where}: not a text file (byte {e.start}: {e.reason})") from None
    if not isinstance(data, dict):
        what = "is empty" if data is None else f"holds a {type(data).__name__}"
        raise ConfigError(f"{where} {what}; it must hold `key: value` lines, at least `models:`")
    found: list[str] = []
    _duplicate_keys(node, found)
    if found:
        raise ConfigError(f"{where}, {found[0]}")


def parse_overrides(args: Sequence[str]) -> dict[str, Any]:
    """The values of ``--config key=value`` arguments, read as YAML.

    Snakemake reads a nested value such as ``models={rw: {grid: {alpha: [0.1], beta: [1]}}}`` with
    every number as text; reading it as YAML gives the numbers back.

    Parameters
    ----------
    args : sequence of str
        The ``key=value`` arguments as given.

    Returns
    -------
    dict
        ``{key: value}`` for every argument whose value is a YAML list or mapping.

    Raises
    ------
    ConfigError
        If such a value (one starting with ``[`` or ``{``) is not valid YAML, naming the
        argument and the column.
    """
    out = {}
    for arg in args:
        key, sep, text = str(arg).partition("=")
        if not sep or not text.lstrip().startswith(("[", "{")):
            continue
        try:
            out[key] = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"--config {arg}"
            if mark is not None:
                where += f", column {len(key) + 2 + mark.column}"
            raise ConfigError(f"{where}: {getattr(e, 'problem', None) or e}") from None
    return out


@dataclass(frozen=True)
class ConfigSource:
    """One source of the config, to say where a problem was written.

    ``name`` is how it is called (``"config.yaml"``, ``"--config"``), ``data`` what it
    sets, and ``path`` the file to find line numbers in (``None`` for ``--config``).
    """

    name: str
    data: Any
    path: str | None = None


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
    """Every schema violation of ``cfg``, as ``"models -> rw -> grid -> alpha -> 1: 1.5 is ..."``.

    Parameters
    ----------
    cfg : object
        The config as read from YAML.
    schema : mapping
        The JSON schema (the library's models are added, :func:`full_schema`).

    Returns
    -------
    list of str
        One message per problem, sorted by location; empty when ``cfg`` is valid.
    """
    return [message for _, message in _schema_problems(cfg, full_schema(schema))]


def _schema_problems(cfg: Any, schema: Mapping[str, Any]) -> list[tuple[list, str]]:
    """``(path, message)`` of every schema violation; ``path`` leads to the value at fault."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path)))
    errors = [_meant(e) for e in errors]
    return [
        (_culprit_path(e), f"{_error_location(e)}: {e.message}{_hint(e)}{_known(e)}")
        for e in errors
    ]


def _known(error) -> str:
    """For an unknown model, the names of the library's models."""
    if error.validator == "additionalProperties" and list(error.absolute_path) == ["models"]:
        return f" (the library's models: {', '.join(model_library.names())})"
    return ""


def _culprit_path(error) -> list:
    """The path to the value at fault; for an unexpected key, the path to that key."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = error.schema.get("properties", {})
        extra = [k for k in error.instance if k not in known]
        if extra:
            path.append(extra[0])
    return path


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
    """Checks the schema cannot express, on the truths of every model.

    Finite grid values, distinct canonical values (12 significant digits, as in the
    paths), a grid or a truth design (not both, not neither), ``sobol`` with its
    ``ranges`` and ``prior`` without, each range's low end below its high end.

    Parameters
    ----------
    cfg : object
        The config as read from YAML.

    Returns
    -------
    list of str
        One message per problem.
    """
    return [message for _, message in _grid_problems(cfg)]


def _where(path: Sequence) -> str:
    return " -> ".join(str(p) for p in path)


def _grid_problems(cfg: Any) -> list[tuple[list, str]]:
    """``(path, message)`` of every problem :func:`grid_errors` reports."""
    problems: list[tuple[list, str]] = []
    entries = cfg.get("models") if isinstance(cfg, Mapping) else None
    if not isinstance(entries, Mapping):
        return problems
    for name, entry in entries.items():
        if not isinstance(entry, Mapping) or name not in model_library.registry():
            continue  # reported by the schema
        base = ["models", name]
        has_grid, has_truths = "grid" in entry, "truths" in entry
        if has_grid == has_truths:
            what = "both `grid` and `truths`" if has_grid else "neither `grid` nor `truths`"
            problems.append(
                (
                    base,
                    f"{_where(base)}: gives {what}; give the true values either as `grid` "
                    "(values of each parameter, every combination studied) or as `truths` "
                    "(`{sobol: N, ranges: {...}}` or `{prior: N}`)",
                )
            )
        grid = entry.get("grid")
        for param, values in grid.items() if isinstance(grid, Mapping) else ():
            if not isinstance(values, list):
                continue
            labels = []
            for i, v in enumerate(values):
                if not isinstance(v, int | float) or isinstance(v, bool):
                    continue  # reported by the schema
                if math.isfinite(v):
                    labels.append(format_value(v))
                else:
                    path = [*base, "grid", param, i]
                    problems.append((path, f"{_where(path)}: {v} is not a finite number"))
            dupes = sorted({x for x in labels if labels.count(x) > 1})
            if dupes:
                path = [*base, "grid", param]
                problems.append(
                    (
                        path,
                        f"{_where(path)}: {values} repeats values (equal to 12 significant "
                        f"digits): {', '.join(dupes)}",
                    )
                )
        truths = entry.get("truths")
        if isinstance(truths, Mapping):
            path = [*base, "truths"]
            kinds = [k for k in ("sobol", "prior") if k in truths]
            if len(kinds) != 1:
                problems.append(
                    (path, f"{_where(path)}: give one of `sobol: N` (with `ranges`) or `prior: N`")
                )
            elif kinds == ["sobol"] and "ranges" not in truths:
                problems.append(
                    (
                        path,
                        f"{_where(path)}: `sobol` needs `ranges`, a [low, high] range of "
                        "each parameter",
                    )
                )
            elif kinds == ["prior"] and "ranges" in truths:
                problems.append(
                    (
                        [*path, "ranges"],
                        f"{_where([*path, 'ranges'])}: `prior` truths are drawn from the "
                        "model's priors; `ranges` belong to `sobol`",
                    )
                )
            ranges = truths.get("ranges")
            for param, pair in ranges.items() if isinstance(ranges, Mapping) else ():
                if (
                    isinstance(pair, list)
                    and len(pair) == 2
                    and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
                    and not pair[0] < pair[1]
                ):
                    where = [*path, "ranges", param]
                    problems.append(
                        (where, f"{_where(where)}: {pair}: the low end must be below the high end")
                    )
    return problems


def old_form_message(cfg: Any) -> str | None:
    """The message for a config in the single-model form of rlrecover 0.1, or None.

    That form had a top-level ``grid`` (and ``priors`` and ``design.rmse_target``) for
    the one model. The message shows the user's own values in the new form.

    Parameters
    ----------
    cfg : object
        The config as read from YAML.

    Returns
    -------
    str or None
    """
    if not isinstance(cfg, Mapping):
        return None
    design = cfg.get("design")
    old_target = isinstance(design, Mapping) and "rmse_target" in design
    old = [k for k in ("grid", "priors") if k in cfg] + (
        ["design -> rmse_target"] if old_target else []
    )
    if not old:
        return None
    entry: dict[str, Any] = {}
    if "grid" in cfg:
        entry["grid"] = cfg["grid"]
    else:
        entry["grid"] = {"alpha": ["..."], "beta": ["..."]}
    if "priors" in cfg:
        entry["priors"] = cfg["priors"]
    if old_target:
        entry["design"] = {"rmse_target": design["rmse_target"]}
    new = yaml.safe_dump({"models": {"rw": entry}}, sort_keys=False, default_flow_style=None)
    return (
        f"{', '.join(old)} at the top level is the single-model form of rlrecover 0.1; "
        "a study now names its models, each with its own grid, priors and RMSE targets "
        '(README, "Changing the study"). For the same study write instead:\n\n'
        + "\n".join(f"    {line}" for line in new.rstrip().splitlines())
    )


def _origin(path: Sequence, sources: Sequence[ConfigSource]) -> ConfigSource | None:
    """The source whose value at ``path`` is the one in the merged config.

    Sources are merged as Snakemake does: mappings key by key, anything else replaced
    whole, so the origin is the last source that reaches the end of ``path`` or holds a
    non-mapping value on the way.
    """
    if not path:
        return None
    for source in reversed(sources):
        node = source.data
        for key in path:
            if not isinstance(node, Mapping):
                return source  # a list or value replaced whole by this source
            if key not in node:
                break
            node = node[key]
        else:
            return source
    return None


def _line_of(source: ConfigSource, path: Sequence) -> str:
    """``", line 3, column 10"``: where ``path`` is written in the source's file, or ``""``."""
    if source.path is None:
        return ""
    try:
        with open(source.path, encoding="utf-8") as f:
            node = yaml.compose(f, Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return ""
    mark = None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            pairs = [(k, v) for k, v in node.value if getattr(k, "value", None) == str(key)]
            if not pairs:
                break
            mark, node = pairs[-1][0].start_mark, pairs[-1][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
            mark = node.start_mark
        else:
            break
    return "" if mark is None else f", {_position(mark)}"


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
    cfg: Any,
    schema: Mapping[str, Any],
    sources: Sequence[str | ConfigSource] = ("the config",),
) -> dict[str, Any]:
    """Check ``cfg`` against the schema and the grid rules; return it with defaults.

    Parameters
    ----------
    cfg : object
        The config as read from YAML.
    schema : mapping
        The JSON schema.
    sources : sequence of str or ConfigSource
        Where the config came from, in the order merged (file names, ``--config``).
        With :class:`ConfigSource` items every problem also names the source it was
        written in and, for a file, the line and column.

    Returns
    -------
    dict
        The config with every schema default filled in.

    Raises
    ------
    ConfigError
        Listing every problem as ``[file, line L, column C: ]key -> key -> index: message``.
    """
    old = old_form_message(cfg)
    if old is not None:
        key = next(k for k in ("grid", "priors", "design") if k in cfg)
        problems = [([key], f"(top level): {old}")]
    else:
        schema = full_schema(schema)
        problems = _schema_problems(cfg, schema) + _grid_problems(cfg)
    if problems:
        known = [s for s in sources if isinstance(s, ConfigSource)]
        names = [s.name if isinstance(s, ConfigSource) else str(s) for s in sources]
        lines = []
        for path, message in problems:
            origin = _origin(path, known)
            where = "" if origin is None else f"{origin.name}{_line_of(origin, path)}: "
            lines.append(f"  {where}{message}")
        raise ConfigError(
            f"Invalid configuration in {', then '.join(names)} "
            f"({len(problems)} problem(s); allowed values: comments in config.yaml "
            f"and workflow/schemas/config.schema.yaml):\n" + "\n".join(lines)
        )
    return fill_defaults(cfg, schema)


# --------------------------------------------------------------------------- models


def _template(schema: Mapping[str, Any], name: str) -> dict[str, Any]:
    try:
        return copy.deepcopy(schema["$defs"][name])
    except KeyError:
        raise KeyError(f"the config schema has no $defs -> {name}") from None


def model_schema(model: Model, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of one model's entry under ``models``, from the templates in ``$defs``.

    Each parameter of kind ``k`` (``unit`` or ``positive``) takes its grid values from
    ``$defs -> k_value``, its Sobol range from ``k_range``, its prior from ``k_prior``
    and its RMSE target from ``k_rmse_target``, defaults included.

    Parameters
    ----------
    model : Model
        The model.
    schema : mapping
        The config schema (its ``$defs`` and ``$defs -> model_entry``).

    Returns
    -------
    dict
    """
    names = list(model.param_names)

    def per_param(kind_template: str, **extra) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            **extra,
            "properties": {
                p.name: _template(schema, f"{p.kind}_{kind_template}") for p in model.params
            },
        }

    entry = _template(schema, "model_entry")
    props = entry["properties"]
    props["grid"] = per_param("grid_values", required=names)
    props["truths"]["properties"]["ranges"] = per_param("range", required=names)
    props["priors"] = per_param("prior", default={})
    props["design"]["properties"]["rmse_target"] = per_param("rmse_target", default={})
    for p in model.params:
        props["priors"]["properties"][p.name]["description"] = (
            f"{p.name} ({p.description}): "
            + props["priors"]["properties"][p.name].get("description", "")
        )
    entry["description"] = f"{model.title}: {model.equations}. Parameters: {', '.join(names)}."
    return entry


def full_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The config schema with one entry per model of the library under ``models``.

    Parameters
    ----------
    schema : mapping
        The schema file's content.

    Returns
    -------
    dict
        A copy whose ``models`` property lists every model of
        :func:`rlrecover.models.registry` (:func:`model_schema`) and no other.
    """
    out = copy.deepcopy(dict(schema))
    section = out["properties"]["models"]
    section["properties"] = {
        name: model_schema(model, schema) for name, model in model_library.registry().items()
    }
    section["additionalProperties"] = False
    return out


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

    @property
    def consts(self) -> dict[str, float]:
        """The task's constants by name, as models take them (``{"q_init": ...}``)."""
        return {"q_init": self.q_init}


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
    model: Model
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
            The subset of the validated config that a job receives: ``seed``,
            ``model`` (the model's name) and ``task`` always, and those of ``priors``
            (the model's), ``sampler``, ``mle``, ``coverage_levels`` the job uses (a
            job that does not receive a section gets None for it, so it cannot depend
            on it by accident).

        Returns
        -------
        Settings

        Raises
        ------
        KeyError
            If ``seed``, ``model`` or ``task``, or a key of a given section, is
            missing (the config was not validated).
        """

        def optional(name, build):
            return build(config[name]) if name in config else None

        model = model_library.get(str(config["model"]))
        return cls(
            seed=int(config["seed"]),
            model=model,
            task=TaskSettings.from_config(config["task"]),
            priors=optional("priors", model.priors_from_config),
            sampler=optional("sampler", SamplerSettings.from_config),
            mle=optional("mle", MLESettings.from_config),
            coverage_levels=optional("coverage_levels", lambda x: tuple(float(v) for v in x)),
        )


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlrecover.config FILE...``: check config files as the workflow would.

    Snakemake reads ``--configfile`` files before the workflow's own checks run, and
    reports a malformed one without its line and column; this names them. The files
    are checked one by one and then merged in order and validated against the schema
    (``--schema``, by default ``workflow/schemas/config.schema.yaml`` here).

    Returns
    -------
    int
        0 if every file is valid, 1 otherwise (the problems are printed).
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m rlrecover.config", description=main.__doc__)
    parser.add_argument("files", nargs="+", help="config files, in merge order")
    parser.add_argument("--schema", default="workflow/schemas/config.schema.yaml")
    args = parser.parse_args(argv)
    try:
        sources = []
        for path in args.files:
            if not os.path.exists(path):
                raise ConfigError(f"config file {path} not found")
            check_yaml_syntax(path)
            with open(path, encoding="utf-8") as f:
                sources.append(ConfigSource(str(path), yaml.safe_load(f), str(path)))
        merged: dict[str, Any] = {}
        for source in sources:
            _merge(merged, source.data)
        validate_config(merged, load_schema(args.schema), sources)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"{', then '.join(args.files)}: a valid config")
    return 0


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Merge as Snakemake's ``update_config``: mappings key by key, anything else replaced."""
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


if __name__ == "__main__":
    raise SystemExit(main())
