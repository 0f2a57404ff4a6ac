"""Compile the PyMC models in a process of their own while a run's first jobs start.

With empty caches, compiling the two models costs about ten seconds of one core, and in
a threaded run (every job a thread of the Snakemake process) the sampling jobs wait
for it while the other core idles: PyTensor's and numba's compilers are Python code,
so a compile in a thread of a busy process crawls. :func:`start` runs the compile
in a separate process as soon as the run starts, on the core that would idle; it only
fills the PyTensor and numba caches on disk. When a sampling job needs a model, it
calls :func:`wait_for` first (:func:`rlrecover.run.jobs.fit_bayes_job` passes it to
:func:`rlrecover.inference.sampling.sample_posteriors`), which
waits until that model is in the caches, so the job loads it (under a second) instead
of compiling it a second time. With warm caches the process only loads the models, on
the otherwise idle core; but once a warm-up has compiled the models into the current
caches it leaves a stamp there (:func:`compiled`), and later runs start none.

The warm-up changes nothing of a result: a model loaded from the cache is the model
compiled in the job.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rlrecover.cancel import check_cancel

if TYPE_CHECKING:
    from rlrecover.inference.sampling import ModelSpec

__all__ = ["KERNELS", "compiled", "start", "wait_for"]

# Seconds between checks for Ctrl-C while waiting for the warm-up.
_WAIT_SLICE = 0.5


def _to_json(spec: ModelSpec) -> dict:
    return {
        "model": spec.model,
        "kind": spec.kind,
        "priors": spec.priors.to_config(),
        "consts": list(spec.consts),
        "likelihood": spec.likelihood,
    }


def _from_json(item: dict) -> ModelSpec:
    from rlrecover import models
    from rlrecover.inference.sampling import ModelSpec

    model = models.get(item["model"])
    return ModelSpec(
        model.name,
        item["kind"],
        model.priors_from_config(item["priors"]),
        tuple(float(c) for c in item["consts"]),
        item["likelihood"],
    )


class _Warmup:
    """The warm-up process and one event per model, set when it is in the caches."""

    def __init__(
        self,
        specs: Sequence[ModelSpec],
        on_ready: Callable[[ModelSpec], None] | None,
        kernels: Sequence[str] = (),
    ) -> None:
        self.specs = list(specs)
        self.ready = {spec: threading.Event() for spec in self.specs}
        self.on_ready = on_ready
        payload = json.dumps([_to_json(s) for s in self.specs])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rlrecover.run.warmup", payload, json.dumps(list(kernels))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        threading.Thread(target=self._read, name="rlrecover-warmup", daemon=True).start()
        atexit.register(self.stop)

    def _read(self) -> None:
        """Set each model's event as the process reports it, and all at its end."""
        try:
            for line in self.process.stdout:
                word, _, index = line.strip().partition(" ")
                if word == "ready" and index.isdigit() and int(index) < len(self.specs):
                    self._ready(self.specs[int(index)])
        finally:
            self.process.wait()
            for spec in self.specs:  # ended or failed: nobody waits any longer
                self._ready(spec)

    def _ready(self, spec: ModelSpec) -> None:
        """Mark ``spec`` ready (once) and tell ``on_ready``."""
        event = self.ready[spec]
        if event.is_set():
            return
        event.set()
        if self.on_ready is not None:
            self.on_ready(spec)

    def stop(self) -> None:
        """End the process if it is still running (the run is over)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


_CURRENT: _Warmup | None = None
_LOCK = threading.Lock()

# What a compiled model also depends on: the libraries' versions and this package's
# model code. A stamp names all of it and the models.
_LIBRARIES = ("pymc", "pytensor", "nutpie", "numba", "llvmlite", "numpy")
_MODEL_CODE = (
    "models/*.py",
    "inference/ops.py",
    "inference/rewrites.py",
    "inference/nutpie_compile.py",
    "inference/pymc_models.py",
    "inference/sampling.py",
)


def _stamp(specs: Sequence[ModelSpec]) -> Path:
    """The file that says ``specs`` are compiled in the current caches.

    It lives in PyTensor's compile directory (where the compiled models' numba
    functions are kept), so emptying that cache removes it too. Its name is a hash
    of the models, the libraries' versions and this package's model code.
    """
    from importlib import metadata

    digest = hashlib.sha256(repr(sorted(map(repr, specs))).encode())
    for name in _LIBRARIES:
        digest.update(f"{name}={metadata.version(name)}".encode())
    here = Path(__file__).parents[1]
    for pattern in _MODEL_CODE:
        for path in sorted(here.glob(pattern)):
            digest.update(path.read_bytes())
    return _compiledir() / "rlrecover-models" / digest.hexdigest()[:32]


def _compiledir() -> Path:
    """PyTensor's compile directory (its numba cache is in there)."""
    import pytensor

    return Path(pytensor.config.compiledir)


def compiled(specs: Sequence[ModelSpec]) -> bool:
    """Whether a warm-up has compiled ``specs`` into the current caches before.

    Parameters
    ----------
    specs : sequence of ModelSpec
        The models.

    Returns
    -------
    bool
        True if the stamp of these models, library versions and model code exists
        (a model whose numba cache was emptied on its own is then compiled by the
        sampling job, as without a warm-up).
    """
    return _stamp(specs).exists()


def start(
    specs: Sequence[ModelSpec],
    on_ready: Callable[[ModelSpec], None] | None = None,
    kernels: Sequence[str] = (),
) -> bool:
    """Compile ``specs`` into the caches in a new process, in the background.

    Parameters
    ----------
    specs : sequence of ModelSpec
        The models the run's sampling jobs will need, the first needed first.
    on_ready : callable, optional
        Called from another thread with each model's specification once it is in the
        caches, and with those left when the process ends (also if it failed).
    kernels : sequence of str, optional
        Names in :data:`KERNELS`: numba functions of later jobs to compile into numba's
        cache after the models, so those jobs load them.

    Returns
    -------
    bool
        True if a warm-up process was started; False if there was nothing to compile
        or one is already running in this process.
    """
    global _CURRENT
    with _LOCK:
        if not specs or (_CURRENT is not None and _CURRENT.process.poll() is None):
            return False
        unknown = sorted({k for k in kernels if k.partition(":")[0] not in KERNELS})
        if unknown:
            raise ValueError(f"unknown kernels {unknown}; known: {sorted(KERNELS)}")
        _CURRENT = _Warmup(specs, on_ready, kernels)
        return True


def wait_for(spec: ModelSpec) -> float:
    """Wait until the warm-up has put ``spec``'s model in the caches, if it is doing so.

    Returns at once when no warm-up of that model is running (none was started, it
    is done, or its process ended). Checks for Ctrl-C every half second.

    Parameters
    ----------
    spec : ModelSpec
        The model about to be compiled.

    Returns
    -------
    float
        Seconds waited.

    Raises
    ------
    rlrecover.cancel.Cancelled
        If the run is asked to stop while waiting.
    """
    warmup = _CURRENT
    event = warmup.ready.get(spec) if warmup is not None else None
    if event is None:
        return 0.0
    t0 = time.perf_counter()
    while not event.wait(_WAIT_SLICE):
        check_cancel()
    return time.perf_counter() - t0


def _compile(spec: ModelSpec) -> None:
    """Build and compile one model (the caches keep it)."""
    import numpy as np

    from rlrecover.inference.nutpie_compile import compile_model

    actions = np.array([0, 1], dtype=np.int64)
    rewards = np.array([1, 0], dtype=np.int64)
    compile_model(spec.build(actions, rewards))


def _exact_kernel(model_name: str = "rw") -> None:
    """Compile the reference posterior's kernels of a model (``rlrecover.inference.exact``)."""
    import numpy as np

    from rlrecover import models
    from rlrecover.inference.exact import exact_posterior
    from rlrecover.models.base import BetaPrior, HalfNormalPrior, Priors

    model = models.get(model_name)
    priors = Priors(
        tuple(
            (p.name, BetaPrior(1.0, 1.0) if p.kind == "unit" else HalfNormalPrior(10.0))
            for p in model.params
        )
    )
    data = np.array([0, 1, 1, 0], dtype=np.int64), np.array([1, 0, 1, 1], dtype=np.int64)
    exact_posterior(model, *data, priors)


def _ecdf_band() -> None:
    """Compile ArviZ's simultaneous ECDF band (``rlrecover.analysis.sbc``, the SBC tables)."""
    from rlrecover.analysis.sbc import ecdf_band

    ecdf_band(10)


#: Numba functions a warm-up can compile after the models, by name (``exact`` takes the
#: model after a colon, ``exact:rwck``): those that a run's later jobs would otherwise
#: compile in Snakemake's process, holding Python's lock for seconds (about 1 s and
#: 3 s with empty caches) while sampling jobs wait for it.
KERNELS: dict[str, Callable[..., None]] = {"exact": _exact_kernel, "ecdf_band": _ecdf_band}


def main(argv: Sequence[str]) -> int:
    """Compile the models given as JSON in ``argv[0]``; print ``ready <i>`` after each.

    Then compile the :data:`KERNELS` named in ``argv[1]`` (a JSON list, optional).
    Runs without garbage collections: the process only compiles and exits, and the
    collector traversing PyMC's and PyTensor's objects again and again cost a fifth of
    its time (measured with empty caches, three runs each: importing PyMC and
    compiling both models took 12.4-13.8 s with collections and 10.5-11.6 s without,
    with 58 MB more memory at the peak).
    """
    import gc

    gc.disable()
    import rlrecover.inference.sampling  # noqa: F401  (PyMC, and the Bernoulli rewrite)

    specs = [_from_json(item) for item in json.loads(argv[0])]
    for i, spec in enumerate(specs):
        _compile(spec)
        print(f"ready {i}", flush=True)
    for name in json.loads(argv[1]) if len(argv) > 1 else []:
        kernel, _, arg = name.partition(":")
        KERNELS[kernel](*([arg] if arg else []))
    stamp = _stamp(specs)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
