"""Speed of rlrecover's fits against the reference notebook's way and the floor.

Run ``python benchmarks/speed.py`` (about 10 minutes on 2 cores; ``--quick`` for a
shorter run with fewer iterations of the slow notebook way). Everything runs on
one core, on the same data and sampler settings, and prints seconds and ratios:

1. Bayesian fits, 4 chains x (1,000 tune + 1,000 draws), 150 trials:
   * the notebook's way: a fresh PyMC model with the ``pytensor.scan`` likelihood
     and ``pm.sample`` per dataset (compilation included, as the notebook pays it);
   * rlrecover's way: one process fits a cell of 20 replicates (PyMC import, model
     build and compile included, amortized over the 20), nutpie on the numba Ops;
     run first with empty caches (a fresh PyTensor compiledir and numba cache, as on
     a new machine) and then again with the caches that run filled;
   * the floor: gradient evaluations NUTS needed for those fits times the cost of
     one evaluation of the hand-written numba log-likelihood and gradient.
2. MLE: the notebook's ``llik_td`` loop with BFGS from the truth against
   ``rlrecover.inference.mle.fit_mle`` (one start and the default five), same optimum.
3. Scaling: seconds per fit at 100, 300 and 1,000 trials.
4. The shipped study (``config.yaml``) end to end with ``snakemake --cores 2`` from
   empty caches: wall time, and wall time x cores / number of Bayesian fits against
   the compiled per-fit time of the study's own datasets, refitted alone right before
   and right after the run (``--study`` runs only this part).
5. Every model of the library (``--models`` runs only this part, ``--models rwck ck``
   some): per model and likelihood, the cold compile time (a fresh process with empty
   caches: build and compile the PyMC model, nutpie's callbacks included), the
   compiled per-fit time at 100 trials against the floor (gradient evaluations x the
   cost of one), and whether the Bernoulli likelihood is fused.
6. ``--six``: ``examples/six_models.yaml`` end to end with ``snakemake --cores 2`` from
   empty caches: wall time, and how much of it the fit jobs took.

Sections 1-4 use the notebook's model, ``rw``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if "--worker" in sys.argv:
    # A worker measures the cost of fits on one core: it may not use a second one (two
    # datasets sample at once in nutpie's threads while this one diagnoses another).
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import numpy as np  # noqa: E402

SEED = sum(map(ord, "RL_PyMC"))
SAMPLER = {"chains": 4, "tune": 1000, "draws": 1000, "target_accept": 0.8}
ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def default_settings(model: str = "rw"):
    """The settings of the schema's defaults (the shipped config.yaml's); read once."""
    from rlrecover import models
    from rlrecover.config import Settings, load_schema, validate_config

    record = models.get(model)
    grid = {p.name: [0.5 if p.kind == "unit" else 5.0] for p in record.params}
    schema = load_schema(ROOT / "workflow" / "schemas" / "config.schema.yaml")
    cfg = validate_config({"models": {model: {"grid": grid}}}, schema)
    job = {k: v for k, v in cfg.items() if k != "models"}
    job.update(model=model, priors=cfg["models"][model]["priors"])
    job["task"]["n_trials"] = 150
    return Settings.from_config(job)


def fit_mle(actions, rewards, n_starts, rng):
    """``rlrecover.inference.mle.fit_mle`` of rw, default settings, ``n_starts`` starts."""
    from rlrecover.inference.mle import fit_mle as fit

    s = default_settings()
    return fit(
        actions,
        rewards,
        model=s.model,
        consts=(s.task.q_init,),
        n_starts=n_starts,
        method=s.mle.method,
        levels=s.coverage_levels,
        rng=rng,
    )


#: Truths of the per-model benchmark: moderate values of every parameter.
def _truth(model) -> dict[str, float]:
    return {p.name: (0.5 if p.kind == "unit" else 5.0) for p in model.params}


def cell_datasets(n_trials: int, n: int, seed: int = 1, model: str = "rw"):
    """``n`` datasets of one truth; rw's first is the reference notebook's."""
    from rlrecover import models

    record = models.get(model)
    truth = _truth(record) if model != "rw" else {"alpha": 0.5, "beta": 5.0}
    data = [record.simulate(truth, n_trials, np.random.default_rng(SEED))]
    rng = np.random.default_rng(seed)
    while len(data) < n:
        data.append(record.simulate(truth, n_trials, rng))
    return data


# ----------------------------------------------------------------------------- workers
def worker_rlrecover(kind: str, n_trials: int, n: int, model: str = "rw") -> dict:
    """Runs in a fresh process: import, build, compile once, fit n datasets."""
    t0 = time.perf_counter()
    from rlrecover import models
    from rlrecover.config import SamplerSettings
    from rlrecover.inference.sampling import sample_posteriors

    t_import = time.perf_counter() - t0
    data = cell_datasets(n_trials, n, model=model)
    fits, done = [], [time.perf_counter()]
    for fit in sample_posteriors(
        models.get(model),
        kind,
        [(i, a, r, i) for i, (a, r) in enumerate(data)],
        SamplerSettings(backend="nutpie", **SAMPLER),
        priors=default_settings(model).priors,
    ):
        fits.append(fit)
        done.append(time.perf_counter())
    total = time.perf_counter() - t0
    errors = [f.error for f in fits if f.error]
    # A fit's cost is the time between consecutive fits (sample_posteriors diagnoses
    # one dataset while the next samples); the first one's includes the compilation.
    per_fit = [fits[0].seconds] + [b - a for a, b in itertools.pairwise(done[1:])]
    return {
        "import": t_import,
        "compile": fits[0].compile_seconds,
        "sampling": per_fit,
        "total": total,
        "errors": errors,
        "first_mean": (float(np.mean(next(iter(fits[0].draws.values())))) if not errors else None),
    }


def worker_study_fits(workdir: str, n_sbc: int) -> dict:
    """Runs in a fresh process: fit a sample of a finished study's own datasets alone.

    Replicate 0 of every grid cell at every number of trials and the first ``n_sbc``
    SBC datasets, with both PyMC models, one after the other on one core, each model
    compiled (and its first fit made) before the timing starts. Returns the mean
    seconds per fit (sampling and diagnostics, as in the study) of each group.
    """
    import pandas as pd

    from rlrecover import models
    from rlrecover.config import SamplerSettings
    from rlrecover.data import iter_datasets
    from rlrecover.inference.sampling import sample_posteriors

    rw = models.get("rw")
    results = Path(workdir) / "results"
    groups: dict[str, list] = {}
    for path in sorted((results / "data" / "rw").glob("trials~*/*/*.tsv")):
        n_trials = path.parts[-3].split("~")[1]
        rep, actions, rewards = next(iter_datasets(pd.read_csv(path, sep="\t")))
        groups.setdefault(f"grid {n_trials}", []).append((rep, actions, rewards))
    for path in sorted((results / "sbc" / "data" / "rw").glob("batch~*.tsv")):
        sbc = groups.setdefault("sbc", [])
        sbc.extend(list(iter_datasets(pd.read_csv(path, sep="\t")))[: n_sbc - len(sbc)])
    settings = SamplerSettings(backend="nutpie", **SAMPLER)
    priors = default_settings().priors
    seconds: dict[str, list[float]] = {group: [] for group in groups}
    for kind in ("potential", "bernoulli"):
        rep, actions, rewards = next(iter(groups.values()))[0]
        list(sample_posteriors(rw, kind, [(rep, actions, rewards, 0)], settings, priors))
        for group, data in groups.items():
            start = time.perf_counter()
            fits = list(
                sample_posteriors(
                    rw, kind, [(r, a, w, i) for i, (r, a, w) in enumerate(data)], settings, priors
                )
            )
            seconds[group].append((time.perf_counter() - start) / len(fits))
    return {group: float(np.mean(s)) for group, s in seconds.items()}


def worker_notebook(kind: str) -> dict:
    """Runs in a fresh process: the notebook's scan model and pm.sample, one dataset."""
    t0 = time.perf_counter()
    import pymc as pm

    from rlrecover import models
    from rlrecover.inference.pymc_models import build_model

    t_import = time.perf_counter() - t0
    actions, rewards = cell_datasets(150, 1)[0]
    t1 = time.perf_counter()
    rw = models.get("rw")
    model = build_model(rw, kind, actions, rewards, default_settings().priors, likelihood="scan")
    with model:
        idata = pm.sample(
            **SAMPLER,
            cores=1,
            random_seed=1,
            progressbar=False,
            compute_convergence_checks=False,
        )
    return {
        "import": t_import,
        "fit": time.perf_counter() - t1,
        "first_mean": float(idata.posterior["alpha"].mean()),
    }


def cache_env(cache_dir: str) -> dict[str, str]:
    """Environment whose PyTensor compiledir and numba cache live in ``cache_dir``."""
    env = dict(os.environ)
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f]
    flags = [f for f in flags if not f.startswith(("base_compiledir", "compiledir"))]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={cache_dir}/pytensor"])
    env["NUMBA_CACHE_DIR"] = f"{cache_dir}/numba"
    return env


def run_worker(*args: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- floor
def floor_seconds_per_eval(n_trials: int, model: str = "rw") -> float:
    """Seconds of one evaluation of the model's numba log-likelihood and gradient kernel."""
    import numba

    from rlrecover import models

    record = models.get(model)
    actions, rewards = cell_datasets(n_trials, 1, model=model)[0]
    rewards = rewards.astype(np.float64)
    theta = list(_truth(record).values())
    args = ", ".join([f"{theta[0]!r} - 1e-9 * i", *map(repr, theta[1:])])
    consts = "".join(f", {c!r}" for c in record.default_consts)
    src = (
        "def loop(k, actions, rewards):\n"
        f"    g = np.empty({record.n_params})\n"
        "    s = 0.0\n"
        "    for i in range(k):\n"
        f"        s += kernel({args}, actions, rewards{consts}, g)\n"
        "    return s\n"
    )
    namespace = {"np": np, "kernel": record.kernels.loglik_grad}
    exec(src, namespace)  # the kernel's arity is the model's
    loop = numba.njit(namespace["loop"])

    loop(200_000, actions, rewards)  # compile, and let the core reach full speed
    best = np.inf
    for _ in range(7):
        t = time.perf_counter()
        loop(50_000, actions, rewards)
        best = min(best, (time.perf_counter() - t) / 50_000)
    return best


def gradient_evals(kind: str, n_trials: int, n: int, model: str = "rw") -> tuple[list[int], bool]:
    """Gradient evaluations (warm-up included) of each of the worker's fits.

    Same model, data, seeds and settings as :func:`worker_rlrecover`, so the same
    chains: these are the evaluations whose time the worker measured. Also says
    whether nutpie's compiled graph holds the fused likelihood (``ChoiceLogLikOp``):
    for the Bernoulli model it must, or the rewrite has stopped matching PyMC's
    graph and that model is slower than it should be.
    """
    import nutpie

    import rlrecover.inference.sampling  # noqa: F401  (registers the rewrite)
    from rlrecover import models
    from rlrecover.inference.nutpie_compile import compile_pymc_model_cached
    from rlrecover.inference.ops import ChoiceLogLikOp
    from rlrecover.inference.pymc_models import build_model

    data = cell_datasets(n_trials, n, model=model)
    pymc_model = build_model(models.get(model), kind, *data[0], default_settings(model).priors)
    compiled = compile_pymc_model_cached(pymc_model)
    fused = any(
        isinstance(node.op, ChoiceLogLikOp) for node in compiled.logp_func.maker.fgraph.apply_nodes
    )
    counts = []
    for i, (actions, rewards) in enumerate(data):
        raw = nutpie.sample(
            compiled.with_data(actions=actions, rewards=rewards),
            cores=1,
            seed=i,
            progress_bar=False,
            return_raw_trace=True,
            save_warmup=False,
            **SAMPLER,
        )
        _, stats = raw.get_arrow_trace()
        counts.append(int(sum(np.asarray(st.column("n_steps")).sum() for st in stats)))
    return counts, fused


# ----------------------------------------------------------------------------- MLE
def notebook_llik_td(x, *args):
    """The notebook's negative log-likelihood loop (reference for timing)."""
    import scipy.special

    alpha, beta = x
    actions, rewards = args
    q = np.array([0.5, 0.5])
    logp_actions = np.zeros(len(actions))
    for t, (a, r) in enumerate(zip(actions, rewards, strict=True)):
        q_ = q * beta
        logp_action = q_ - scipy.special.logsumexp(q_)
        logp_actions[t] = logp_action[a]
        q[a] = q[a] + alpha * (r - q[a])
    return -np.sum(logp_actions[1:])


def mle_comparison(repeats: int) -> None:
    import scipy.optimize

    actions, rewards = cell_datasets(150, 1)[0]
    t = time.perf_counter()
    for _ in range(repeats):
        ref = scipy.optimize.minimize(
            notebook_llik_td, [0.5, 5.0], args=(actions, rewards), method="BFGS"
        )
    t_ref = (time.perf_counter() - t) / repeats
    fit_mle(actions, rewards, n_starts=1, rng=np.random.default_rng(0))  # JIT load
    rows = []
    for n_starts in (1, 5):
        k = 50
        t = time.perf_counter()
        for i in range(k):
            res = fit_mle(actions, rewards, n_starts=n_starts, rng=np.random.default_rng(i))
        rows.append((n_starts, (time.perf_counter() - t) / k, res))
    print("\n== MLE, notebook dataset (150 trials), seconds per fit ==")
    print(f"notebook llik_td + BFGS from the truth: {t_ref:.4f} s  nll {ref.fun:.10f}")
    for n_starts, sec, res in rows:
        print(
            f"rlrecover fit_mle, {n_starts} start(s):      {sec:.5f} s  nll {res.nll:.10f}  "
            f"|d nll| {abs(res.nll - ref.fun):.1e}  speed-up x{t_ref / sec:.0f}"
        )


# ----------------------------------------------------------------------------- study
def whole_study(cores: int = 2) -> None:
    """Run the shipped config.yaml end to end from empty caches; compare with per-fit cost.

    The overhead ratio is wall time x cores / number of Bayesian fits, against the
    compiled per-fit time of the study's own datasets: a sample of them (replicate 0 of
    every grid cell at each number of trials, 25 SBC datasets) fitted again by both
    PyMC models, one at a time on one core, weighted by how many Bayesian fits the
    study makes of each kind. The VM's speed drifts by up to 30 % within minutes, so
    the per-fit time is measured right before the run (on the same datasets, simulated
    beforehand by the pipeline's own ``simulate`` rules in a scratch directory, with
    caches of their own) and right after it, and the ratio uses their mean; the ratio
    against each is printed too. The time of one cell (alpha 0.5, beta 5), the figure
    of the first section, is printed as well; the grid's cells are harder on average
    (for example at 400 trials), so it understates what the study's fits cost.
    """
    import shutil

    import pandas as pd
    import yaml

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    grid = cfg["models"]["rw"]["grid"]

    def workdir(path: Path) -> Path:
        path.mkdir()
        for name in ("Snakefile", "config.yaml"):
            shutil.copy(ROOT / name, path / name)
        for name in ("workflow", "profiles"):
            shutil.copytree(ROOT / name, path / name)
        return path

    def snakemake(path: Path, env: dict[str, str], *targets: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet", *targets],
            cwd=path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])

    with tempfile.TemporaryDirectory() as tmp:
        # The study's datasets, simulated by the pipeline itself, and their per-fit
        # time right before the run (with caches the run does not see).
        scratch, env_before = workdir(Path(tmp) / "data"), cache_env(str(Path(tmp) / "cache0"))
        snakemake(scratch, env_before, "--until", "simulate", "sbc_simulate")
        before = run_worker("study", str(scratch), "25", env=env_before)
        work, env = workdir(Path(tmp) / "study"), cache_env(str(Path(tmp) / "cache"))
        start = time.perf_counter()
        snakemake(work, env, "all")
        wall = time.perf_counter() - start
        grid = pd.read_csv(work / "results/recovery.tsv", sep="\t")
        sbc = pd.read_csv(work / "results/sbc/recovery.tsv", sep="\t")
        after = run_worker("study", str(work), "25", env=env)
    grid_bayes = grid[grid["method"] != "mle"]
    counts = {f"grid {n}": k for n, k in grid_bayes.groupby("n_trials").size().items()}
    counts["sbc"] = int((sbc["method"] != "mle").sum())
    n_bayes = sum(counts.values())
    own = {g: (before[g] + after[g]) / 2 for g in counts}
    compiled = sum(own[g] * k for g, k in counts.items()) / n_bayes
    compiled_before = sum(before[g] * k for g, k in counts.items()) / n_bayes
    compiled_after = sum(after[g] * k for g, k in counts.items()) / n_bayes
    one_cell = {}
    for group in counts:
        n_trials = sbc["n_trials"].iloc[0] if group == "sbc" else int(group.split()[1])
        res = run_worker("rlrecover", "potential", str(int(n_trials)), "6")
        one_cell[group] = float(np.mean(res["sampling"][1:]))
    one_cell_mean = sum(one_cell[g] * k for g, k in counts.items()) / n_bayes
    overhead = wall * cores / n_bayes
    print(f"\n== The shipped study (config.yaml), snakemake --cores {cores}, empty caches ==")
    print(
        f"rw, grid {len(grid['alpha'])} x {len(grid['beta'])}, "
        f"n_trials {cfg['task']['n_trials']}, replicates {cfg['replicates']}, "
        f"SBC {cfg.get('sbc', {}).get('draws')}: {len(grid) + len(sbc)} fits, "
        f"{n_bayes} Bayesian"
    )
    print(f"wall time {wall:.1f} s ({wall / 60:.2f} min; target at most 5 min)")
    print(
        "compiled per-fit time, the study's own datasets refitted alone on one core, "
        "mean of right before and right after the run: "
        + ", ".join(f"{g}: {own[g]:.3f} s" for g in counts)
        + f"; weighted by the study's fits: {compiled:.3f} s "
        f"(before {compiled_before:.3f} s, after {compiled_after:.3f} s)"
    )
    print(
        "(one cell, alpha 0.5 and beta 5, potential model: "
        + ", ".join(f"{g}: {t:.3f} s" for g, t in one_cell.items())
        + f"; weighted: {one_cell_mean:.3f} s)"
    )
    print(
        f"wall x cores / Bayesian fits = {overhead:.3f} s = {overhead / compiled:.2f} x the "
        f"compiled per-fit time (target at most 1.5; {overhead / compiled_before:.2f} x "
        f"the time before the run, {overhead / compiled_after:.2f} x the time after; "
        f"{overhead / one_cell_mean:.2f} x the one-cell time)"
    )


# ----------------------------------------------------------------------------- models
def model_table(names: list[str], n_trials: int = 100, n: int = 8) -> None:
    """Per model and likelihood: cold compile, compiled per-fit time and its floor."""
    from rlrecover import models

    print(f"\n== Every model, {n_trials} trials, {SAMPLER}, one core ==")
    print(
        "model   likelihood  cold compile  warm load  per fit (compiled)  grad evals  "
        "per eval  floor    per fit / floor  fused"
    )
    for name in names or list(models.names()):
        per_eval = floor_seconds_per_eval(n_trials, name)
        for kind in ("potential", "bernoulli"):
            with tempfile.TemporaryDirectory() as cache:
                env = cache_env(cache)
                cold = run_worker("rlrecover", kind, str(n_trials), str(n), name, env=env)
                warm = run_worker("rlrecover", kind, str(n_trials), str(n), name, env=env)
            counts, fused = gradient_evals(kind, n_trials, n, name)
            evals = float(np.mean(counts[1:]))
            sampling = float(np.mean(warm["sampling"][1:]))
            floor = evals * per_eval
            print(
                f"{name:7s} {kind:10s}  {cold['compile']:9.2f} s  {warm['compile']:7.2f} s  "
                f"{sampling:14.3f} s  {evals:10.0f}  {per_eval * 1e6:5.2f} us  "
                f"{floor:.3f} s  {sampling / floor:12.2f}   "
                f"{fused if kind == 'bernoulli' else '-'}",
                flush=True,
            )


def six_models(cores: int = 2) -> None:
    """``examples/six_models.yaml`` end to end from empty caches: wall time and fit share."""
    import shutil

    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "study"
        work.mkdir()
        for name in ("Snakefile", "config.yaml"):
            shutil.copy(ROOT / name, work / name)
        for name in ("workflow", "profiles", "examples"):
            shutil.copytree(ROOT / name, work / name)
        env = cache_env(str(Path(tmp) / "cache"))
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--cores",
                str(cores),
                "--quiet",
                "--configfile",
                "examples/six_models.yaml",
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        bench = []
        for path in (work / "results" / "benchmarks").rglob("*.tsv"):
            rule = path.relative_to(work / "results" / "benchmarks").parts[0]
            bench.append((rule, float(pd.read_csv(path, sep="\t")["s"].iloc[0])))
        grid = pd.read_csv(work / "results/recovery.tsv", sep="\t")
        sbc = pd.read_csv(work / "results/sbc/recovery.tsv", sep="\t")
    by_rule: dict[str, float] = {}
    for rule, seconds in bench:
        by_rule[rule] = by_rule.get(rule, 0.0) + seconds
    fits = sum(v for k, v in by_rule.items() if "fit" in k)
    print(f"\n== examples/six_models.yaml, snakemake --cores {cores}, empty caches ==")
    print(f"{len(grid) + len(sbc)} fits; wall time {wall:.1f} s ({wall / 60:.2f} min)")
    print(
        "job seconds by rule (wall time of each job, summed; jobs overlap on the cores): "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(by_rule.items(), key=lambda kv: -kv[1]))
    )
    print(f"fit jobs: {fits:.0f} job-seconds of {wall * cores:.0f} core-seconds")


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the notebook's sampling")
    parser.add_argument(
        "--study", action="store_true", help="only run the shipped study end to end"
    )
    parser.add_argument(
        "--models", nargs="*", help="only the per-model table (of these models; default all)"
    )
    parser.add_argument("--six", action="store_true", help="only examples/six_models.yaml")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.study:
        whole_study()
        return
    if args.models is not None:
        model_table(args.models)
        return
    if args.six:
        six_models()
        return
    if args.worker:
        what, kind, *rest = args.worker
        if what == "rlrecover":
            result = worker_rlrecover(kind, int(rest[0]), int(rest[1]), *rest[2:])
        elif what == "study":
            result = worker_study_fits(kind, int(rest[0]))
        else:
            result = worker_notebook(kind)
        print(json.dumps(result))
        return

    n_cell = 20
    per_eval = floor_seconds_per_eval(150)
    print(f"floor: one numba log-likelihood + gradient, 150 trials: {per_eval * 1e6:.2f} us")
    print(f"\n== Bayesian fits, 150 trials, {SAMPLER}, one core ==")
    for kind in ("potential", "bernoulli"):
        with tempfile.TemporaryDirectory() as cache:
            env = cache_env(cache)
            cold = run_worker("rlrecover", kind, "150", str(n_cell), env=env)
            ours = run_worker("rlrecover", kind, "150", str(n_cell), env=env)
        # The floor of the datasets whose sampling is averaged (all but the first).
        counts, fused = gradient_evals(kind, 150, n_cell)
        evals = float(np.mean(counts[1:]))
        floor = evals * per_eval
        sampling = float(np.mean(ours["sampling"][1:]))
        amortized = {"cold": cold["total"] / n_cell, "warm": ours["total"] / n_cell}
        print(f"\n-- pm.{'Potential' if kind == 'potential' else 'Bernoulli'} model --")
        for label, res in (("empty caches", cold), ("warm caches", ours)):
            print(
                f"rlrecover, {label}: import {res['import']:.1f} s, build+compile "
                f"{res['compile']:.1f} s, amortized over a cell of {n_cell}, all included: "
                f"{res['total'] / n_cell:.3f} s"
            )
        print(f"rlrecover sampling once compiled: {sampling:.3f} s per dataset (mean of 19)")
        print(f"fused likelihood (ChoiceLogLikOp) in nutpie's compiled graph: {fused}")
        if kind == "bernoulli" and not fused:
            print(
                "WARNING: the rewrite rlrecover.inference.rewrites.fuse_bernoulli_loglik no "
                "longer matches the Bernoulli model's graph: that model runs unfused (slower)."
            )
        print(
            f"floor: {evals:.0f} gradient evaluations (mean of the same {n_cell - 1} fits) x "
            f"{per_eval * 1e6:.2f} us = {floor:.3f} s; "
            f"rlrecover compiled / floor = {sampling / floor:.2f} "
            f"(against the issue's 4 us floor, {evals * 4e-6:.3f} s: "
            f"{sampling / (evals * 4e-6):.2f})"
        )
        if not args.quick:
            nb = run_worker("notebook", kind)
            nb_dataset = nb["fit"] + nb["import"] / n_cell
            print(
                f"notebook (scan + pm.sample, fresh model, PyTensor's C cache as found): "
                f"{nb['fit']:.1f} s per dataset (+ {nb['import']:.1f} s import); "
                f"notebook / rlrecover amortized = x{nb_dataset / amortized['warm']:.0f} "
                f"(rlrecover from empty caches: x{nb_dataset / amortized['cold']:.0f}); "
                f"compiled sampling only x{nb['fit'] / sampling:.0f}"
            )
            print(
                f"posterior mean of alpha, notebook data: notebook {nb['first_mean']:.3f}, "
                f"rlrecover {ours['first_mean']:.3f}"
            )

    mle_comparison(repeats=5 if args.quick else 20)

    print("\n== Scaling: seconds per fit (compiled), 5 datasets each ==")
    for n_trials in (100, 300, 1000):
        cells = cell_datasets(n_trials, 5)
        t = time.perf_counter()
        for i, (a, r) in enumerate(cells):
            fit_mle(a, r, n_starts=default_settings().mle.n_starts, rng=np.random.default_rng(i))
        mle = (time.perf_counter() - t) / len(cells)
        line = f"n_trials {n_trials:5d}: mle {mle:.4f} s"
        for kind in ("potential", "bernoulli"):
            res = run_worker("rlrecover", kind, str(n_trials), "6")
            line += f", pymc_{kind} {np.mean(res['sampling'][1:]):.3f} s"
        print(line, flush=True)

    whole_study()


if __name__ == "__main__":
    main()
