"""Seeds derived from what a dataset *is*, never from where it sits in the grid.

A dataset's random stream depends only on the configured seed, the model, the true
parameter values and the replicate number. Adding a value to the grid or a model to
the study therefore leaves every existing dataset, and the jobs that produced it,
untouched. The model enters the key by its name (:meth:`Model.stream_parts`), so two
models with the same parameter values never share a stream; only ``rw`` keeps the
keys of the single-model releases, and with them its datasets and fits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = ["dataset_rng", "derive_seed", "format_value", "sbc_rng"]


def format_value(x: float) -> str:
    """Canonical text of a grid value, as used in paths and seeds.

    ``5`` and ``5.0`` give ``"5"``; ``0.5`` gives ``"0.5"``. Values are written with
    up to 12 significant digits, so two values that differ below that are one cell.

    Parameters
    ----------
    x : float
        A grid value.

    Returns
    -------
    str
    """
    return f"{float(x):.12g}"


def _key_words(*parts: object) -> list[int]:
    text = "\x1f".join(format_value(p) if isinstance(p, float) else str(p) for p in parts)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)]


def derive_seed(seed: int, *parts: object) -> np.random.SeedSequence:
    """A ``SeedSequence`` for the configured seed and a tuple of labels.

    Parameters
    ----------
    seed : int
        The configured (non-negative) seed.
    *parts : object
        Labels that identify the stream, e.g. ``("data", 0.5, 5.0, 3)``. Floats are
        written with :func:`format_value`, so ``5`` and ``5.0`` are the same label
        only when passed as the same type; callers pass floats for cell values.

    Returns
    -------
    numpy.random.SeedSequence
    """
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence([int(seed), *_key_words(*parts)])


def dataset_rng(
    seed: int, model: Sequence[str], cell: Sequence[float], replicate: int
) -> np.random.Generator:
    """Generator that simulates replicate ``replicate`` of a grid cell.

    Parameters
    ----------
    seed : int
        Configured seed.
    model : sequence of str
        The model's part of the key (:meth:`rlrecover.models.base.Model.stream_parts`).
    cell : sequence of float
        True parameter values of the cell, in the model's order.
    replicate : int
        Replicate number, starting at 0.

    Returns
    -------
    numpy.random.Generator
    """
    return np.random.default_rng(
        derive_seed(seed, "data", *model, *(float(v) for v in cell), int(replicate))
    )


def sbc_rng(seed: int, model: Sequence[str], index: int) -> np.random.Generator:
    """Generator of SBC dataset ``index``: it draws the truth, then simulates the data.

    It depends only on the configured seed and the index, so raising the number of SBC
    datasets adds datasets and changes none.

    Parameters
    ----------
    seed : int
        Configured seed.
    model : sequence of str
        The model's part of the key (:meth:`rlrecover.models.base.Model.stream_parts`).
    index : int
        SBC index, starting at 0.

    Returns
    -------
    numpy.random.Generator
    """
    return np.random.default_rng(derive_seed(seed, "sbc", *model, int(index)))
