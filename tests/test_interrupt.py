"""rlrecover.run.interrupt: Ctrl-C sets the cancel flag; the run lock dies with its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from rlrecover.run import interrupt


@pytest.fixture
def clean_cancel():
    interrupt.CANCEL.clear()
    yield
    interrupt.CANCEL.clear()


def test_check_cancel_raises_only_after_a_request(clean_cancel):
    interrupt.check_cancel()
    interrupt.CANCEL.set()
    with pytest.raises(interrupt.Cancelled, match="finished datasets are kept"):
        interrupt.check_cancel()


def test_first_ctrl_c_cancels_and_interrupts_second_is_ignored_third_interrupts(
    clean_cancel, monkeypatch
):
    previous = signal.getsignal(signal.SIGINT)
    lines = []
    try:
        assert interrupt.install_sigint_handler(lines.append)
        assert interrupt.install_sigint_handler(lines.append)  # once only
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        assert interrupt.CANCEL.is_set()
        os.kill(os.getpid(), signal.SIGINT)  # ignored: the run is stopping
        assert any("still stopping" in line for line in lines), lines
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # the third one interrupts
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_late_second_ctrl_c_interrupts_unless_a_fit_is_still_stopping(clean_cancel, monkeypatch):
    monkeypatch.setattr(interrupt, "GRACE_SECONDS", 0.0)
    for active in (True, False):
        previous = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            assert interrupt.install_sigint_handler(lambda _: None)
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
            if active:
                with interrupt.active_fit():
                    os.kill(os.getpid(), signal.SIGINT)
            else:
                with pytest.raises(KeyboardInterrupt):
                    os.kill(os.getpid(), signal.SIGINT)
        finally:
            signal.signal(signal.SIGINT, previous)


def test_the_handler_is_only_installed_from_the_main_thread():
    import threading

    result = []
    t = threading.Thread(target=lambda: result.append(interrupt.install_sigint_handler()))
    t.start()
    t.join()
    assert result == [False]


_HOLD = textwrap.dedent(
    """
    import sys, time
    from rlrecover.run import interrupt
    print(interrupt.hold_run_lock(sys.argv[1]), flush=True)
    time.sleep(60)
    """
)


def test_run_lock_is_exclusive_and_released_when_its_process_is_killed(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "True"
        other = subprocess.run(
            [sys.executable, "-c", _HOLD.replace("time.sleep(60)", ""), str(tmp_path)],
            capture_output=True,
            text=True,
        )
        assert other.stdout.strip() == "False", "a second process must not get the lock"
    finally:
        holder.kill()
        holder.wait()
    after = subprocess.run(
        [sys.executable, "-c", _HOLD.replace("time.sleep(60)", ""), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert after.stdout.strip() == "True", "SIGKILL releases the lock"


def test_stale_snakemake_locks_are_cleared_only_by_the_lock_holder(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    for name in ("0.input.lock", "0.output.lock"):
        (locks / name).write_text("results/x\n")
    other = tmp_path / "elsewhere"
    other.mkdir()
    with pytest.raises(RuntimeError, match="needs the run lock"):
        interrupt.clear_stale_snakemake_locks(other)
    assert interrupt.hold_run_lock(tmp_path)
    removed = interrupt.clear_stale_snakemake_locks(tmp_path)
    assert sorted(p.name for p in removed) == ["0.input.lock", "0.output.lock"]
    assert not list(locks.iterdir())
