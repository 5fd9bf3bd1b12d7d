"""Run-directory writes under Ctrl-C: SIGINT is held while a file is written and raised once it is in place,
so an atomic write or a metrics line is never cut in half."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from symtheory.empirical.interrupts import interrupts_held
from symtheory.empirical.run_dir import RunDir, atomic_write


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_sigint_in_a_held_block_is_raised_after_it():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_held():
            ctrl_c()
            steps.append("after the signal")
            with interrupts_held():
                ctrl_c()
                steps.append("nested")
            steps.append("end of block")
    assert steps == ["after the signal", "nested", "end of block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with interrupts_held():
        steps.append("no signal")
    assert steps[-1] == "no signal"


def test_nothing_is_held_off_the_main_thread():
    seen = []

    def worker():
        with interrupts_held():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


def test_atomic_write_finishes_the_file_before_ctrl_c_takes_effect(tmp_path):
    target = tmp_path / "state.bin"

    def write(handle):
        handle.write(b"first half ")
        ctrl_c()
        handle.write(b"second half")

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, write)
    assert target.read_bytes() == b"first half second half"
    assert [p.name for p in tmp_path.iterdir()] == ["state.bin"]


def test_metrics_line_is_whole_after_ctrl_c(tmp_path, monkeypatch):
    import symtheory.empirical.run_dir as run_dir_module

    class SplitWrites:
        """A file whose write() writes half, then presses Ctrl-C, then writes the rest."""

        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, text):
            self.handle.write(text[: len(text) // 2])
            self.handle.flush()
            ctrl_c()
            self.handle.write(text[len(text) // 2:])

        def __getattr__(self, name):
            return getattr(self.handle, name)

    run = RunDir(tmp_path)
    run.append_metrics({"epoch": 1, "j1": 0.5})
    monkeypatch.setattr(run_dir_module, "open", lambda *a, **k: SplitWrites(open(*a, **k)), raising=False)
    with pytest.raises(KeyboardInterrupt):
        run.append_metrics({"epoch": 2, "j1": 0.75})
    monkeypatch.undo()
    assert run.read_metrics() == [{"epoch": 1, "j1": 0.5}, {"epoch": 2, "j1": 0.75}]


def test_a_last_metrics_line_cut_short_is_skipped_on_resume(tmp_path):
    run = RunDir(tmp_path)
    run.metrics_path.write_text('{"epoch": 1, "j1": 0.5}\n{"epoch": 2, "j1": 0.75}\n{"epoch": 3, "j1')
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2]
    assert [r["epoch"] for r in run.keep_metrics_through(2)] == [1, 2]
    assert run.metrics_path.read_text() == '{"epoch": 1, "j1": 0.5}\n{"epoch": 2, "j1": 0.75}\n'


def test_a_damaged_metrics_line_before_later_epochs_is_refused_not_dropped(tmp_path):
    from symtheory.errors import BadInput

    run = RunDir(tmp_path)
    lines = ['{"epoch": 1}', '{"epoch": 2}', '{"epo', '{"epoch": 11}', '{"epoch": 12}']
    text = "\n".join(lines) + "\n"
    run.metrics_path.write_text(text)
    expected = (f"{run.metrics_path} line 3 is damaged and later lines hold more epochs; repair that line (its "
                f"epoch's figures are not recorded elsewhere), or delete {tmp_path} and start the run again")
    with pytest.raises(BadInput) as refused:
        run.keep_metrics_through(12)
    assert str(refused.value) == expected
    assert run.metrics_path.read_text() == text  # nothing rewritten


@pytest.mark.parametrize("epochs, what", [
    ([1, 3, 4, 5], "lacks epoch 2 of the 5"),
    ([2, 3, 4, 5], "lacks epoch 1 of the 5"),
    ([1, 2, 2, 3, 4, 5], "holds an epoch twice or out of order of the 5"),
])
def test_a_run_missing_an_epochs_metrics_is_not_resumed(tmp_path, epochs, what):
    # removing a damaged line (as the error once advised) let the run resume with a hole that report then
    # refused for good ("finished with 4 of 5 epochs recorded")
    from symtheory.errors import BadInput

    run = RunDir(tmp_path)
    text = "".join(f'{{"epoch": {e}}}\n' for e in epochs)
    run.metrics_path.write_text(text)
    with pytest.raises(BadInput) as refused:
        run.keep_metrics_through(5)
    assert str(refused.value) == (f"{run.metrics_path} {what} its checkpoint holds; the run cannot be resumed: "
                                  f"delete {tmp_path} and start it again")
    assert run.metrics_path.read_text() == text


def _sleeper():
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_run_directory_held_by_a_live_process_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    import os
    import socket

    from symtheory.empirical.run_dir import LOCK, RunDir, acquire_lock, release_lock
    from symtheory.errors import BadInput

    run = tmp_path / "run"
    RunDir.create(run)
    assert (run / LOCK).read_text().split() == [str(os.getpid()), socket.gethostname()]
    acquire_lock(run)  # held again by the same process
    release_lock(run)
    assert not (run / LOCK).exists()
    other = _sleeper()
    try:
        (run / LOCK).write_text(f"{other.pid} {socket.gethostname()}\n")
        with pytest.raises(BadInput, match=rf"^{run} is being trained by process {other.pid}: wait for it"):
            acquire_lock(run)
        release_lock(run)  # not ours: kept
        assert (run / LOCK).read_text().split()[0] == str(other.pid)
    finally:
        other.kill()
        other.wait()
    acquire_lock(run)  # its process has ended
    assert (run / LOCK).read_text().split()[0] == str(os.getpid())
    (run / LOCK).write_text(f"{other.pid} another-host\n")
    acquire_lock(run)
    assert (run / LOCK).read_text().split()[0] == str(os.getpid())
    assert [p.name for p in run.iterdir()] == [LOCK]  # no write temporary left


def test_a_second_trainer_of_a_run_is_refused_and_a_finished_run_leaves_no_lock(tmp_path, data_dir):
    import socket

    from cli_helpers import assert_bad_input, run_cli
    from symtheory.empirical.presets import build_config
    from symtheory.empirical.run_dir import LOCK
    from symtheory.empirical.train import train

    run = tmp_path / "run"
    train(build_config(None, subset=100, epochs=1, batch_size=50), run, data_dir=data_dir)
    assert not (run / LOCK).exists()
    metrics = (run / "metrics.jsonl").read_text()
    other = _sleeper()
    try:
        (run / LOCK).write_text(f"{other.pid} {socket.gethostname()}\n")
        done = run_cli("train", "--resume", str(run), "--epochs", "2", "--quiet", timeout=300)
        assert_bad_input(done, f"{run} is being trained by process {other.pid}: wait for it to end or stop it")
        assert (run / "metrics.jsonl").read_text() == metrics
    finally:
        other.kill()
        other.wait()
    assert train(None, run, resume=True, data_dir=data_dir, epochs=2).status == "finished"
    assert not (run / LOCK).exists()


def test_a_resume_with_nothing_to_train_adds_no_resume_entry(tmp_path, data_dir):
    import json

    from symtheory.empirical.presets import build_config
    from symtheory.empirical.train import train

    run = tmp_path / "run"
    train(build_config(None, subset=100, epochs=1, batch_size=50), run, data_dir=data_dir)
    before = (run / "config.json").read_text()
    assert train(None, run, resume=True, data_dir=data_dir).status == "finished"
    assert (run / "config.json").read_text() == before
    train(None, run, resume=True, data_dir=data_dir, epochs=2)
    assert [r["from_epoch"] for r in json.loads((run / "config.json").read_text())["resumes"]] == [1]


def test_resuming_a_path_that_does_not_exist_says_so(tmp_path):
    from symtheory.errors import BadInput

    with pytest.raises(BadInput, match=rf"^no run directory at {tmp_path / 'nothere'}: it does not exist$"):
        RunDir.open(tmp_path / "nothere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=r"empty is not a run directory \(missing config.json, labels.npz\)$"):
        RunDir.open(tmp_path / "empty")
    assert list((tmp_path / "empty").iterdir()) == []


def test_the_lock_works_where_the_file_system_has_no_hard_links(tmp_path, monkeypatch):
    import os
    import socket

    from symtheory.empirical import run_dir
    from symtheory.errors import BadInput

    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(run_dir.os, "link", no_links)
    run_dir.acquire_lock(tmp_path)
    assert (tmp_path / run_dir.LOCK).read_text().split() == [str(os.getpid()), socket.gethostname()]
    other = _sleeper()
    try:
        (tmp_path / run_dir.LOCK).write_text(f"{other.pid} {socket.gethostname()}\n")
        with pytest.raises(BadInput, match=f"is being trained by process {other.pid}"):
            run_dir.acquire_lock(tmp_path)
    finally:
        other.kill()
        other.wait()
    run_dir.acquire_lock(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [run_dir.LOCK]
