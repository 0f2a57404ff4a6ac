"""End to end: Ctrl-C twice, then SIGKILL, in the middle of fitting; the plain rerun.

The rerun must give the same ``recovery.tsv`` as an uninterrupted run (every column but
``seconds``), fit only the datasets that were missing, and need no extra flag.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {
    "seed": 5,
    "task": {"n_trials": 100},
    "models": {"rw": {"grid": {"alpha": [0.3, 0.7], "beta": [4]}}},
    "replicates": 12,
    "sampler": {"chains": 2, "tune": 400, "draws": 400},
    "mle": {"n_starts": 2},
    "sbc": {"draws": 0},
    "exact_check": {"per_cell": 1},
}


COMMAND = [sys.executable, "-m", "snakemake", "--cores", "2", "results/recovery.tsv"]


def _workdir(path: Path) -> Path:
    path.mkdir()
    shutil.copy(ROOT / "Snakefile", path / "Snakefile")
    shutil.copytree(ROOT / "workflow", path / "workflow")
    shutil.copytree(ROOT / "profiles", path / "profiles")
    (path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return path


def _snakemake(workdir: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        COMMAND,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job
        **kw,
    )


def _sampled(workdir: Path, since: float) -> int:
    """Datasets sampled by jobs still running that started after ``since`` (a time.time()).

    A job that has written the draws of both methods is done, and has removed its
    checkpoints: its datasets do not count.
    """
    logs = (workdir / "results/logs/fit_bayes").rglob("*.log")
    texts = [p.read_text() for p in logs if p.stat().st_mtime > since]
    return sum(t.count(", sampled") for t in texts if t.count("wrote the draws") < 2)


def _wait_for_sampling(workdir: Path, proc: subprocess.Popen, since: float) -> None:
    """Wait until a running sampling job has finished at least one dataset."""
    deadline = time.monotonic() + 300
    while _sampled(workdir, since) == 0:
        assert proc.poll() is None, "the run ended before sampling"
        assert time.monotonic() < deadline, "no dataset was sampled in 5 minutes"
        time.sleep(0.1)


def _table(path: Path) -> pd.DataFrame:
    t = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return (
        t.drop(columns="seconds")
        .sort_values(["method", "cell", "replicate"])
        .reset_index(drop=True)
    )


@pytest.mark.slow
def test_interrupted_run_resumes_with_the_plain_command_and_the_same_results(tmp_path):
    reference = _workdir(tmp_path / "reference")
    proc = subprocess.run(COMMAND, cwd=reference, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    work = _workdir(tmp_path / "run")

    # 1. Ctrl-C, and Ctrl-C again at once, while datasets are being sampled.
    proc = _snakemake(work)
    _wait_for_sampling(work, proc, since=0)
    os.killpg(proc.pid, signal.SIGINT)
    sent = time.monotonic()
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    stopped = time.monotonic() - sent
    assert proc.returncode == 1, out[-3000:]  # a clean failure: no crash (139), no panic
    assert "panicked" not in out, out[-3000:]
    assert "Traceback" not in out.split("Terminating")[-1], out[-3000:]
    assert "stopping the running fits" in out
    assert stopped < 15, f"Ctrl-C took {stopped:.1f} s to stop the run"
    checkpoints = list((work / "results/checkpoints").rglob("*.npz"))
    assert checkpoints, "the finished datasets of the stopped job are kept"

    # 2. The plain command again, then SIGKILL to the whole process group.
    restart = time.time()
    proc = _snakemake(work)
    _wait_for_sampling(work, proc, since=restart)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert list((work / ".snakemake/locks").glob("*.lock")), "SIGKILL leaves Snakemake's locks"

    # 3. The plain command finishes the study: no --unlock, no --rerun-incomplete.
    proc = subprocess.run(COMMAND, cwd=work, capture_output=True, text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert "left by a run that was killed" in out
    logs = "".join(p.read_text() for p in (work / "results/logs/fit_bayes").rglob("*.log"))
    assert "taken from checkpoints of an earlier run" in logs
    pd.testing.assert_frame_equal(
        _table(work / "results/recovery.tsv"), _table(reference / "results/recovery.tsv")
    )
    assert not (work / "results/checkpoints").exists(), "checkpoints are removed when done"
