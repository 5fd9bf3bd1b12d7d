"""The ``train`` and ``plot`` commands through a real subprocess: bad input gives exit 2 and one line on
stderr, a small run prints its summary as JSON, a plot is written, and --help never imports torch."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from cli_helpers import assert_bad_input, run_cli
from symtheory.empirical.checkpoint import load_checkpoint
from symtheory.empirical.presets import build_config
from symtheory.empirical.train import train


def test_help_and_theory_commands_never_import_torch():
    code = (
        "import sys\n"
        "from symtheory.cli.app import main\n"
        "for argv in (['--help'], ['train', '--help'], ['plot', '--help'], ['check-loss', 'rll', '--json']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, (argv, exc.code)\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "NO-TORCH"
    assert "--resume" in done.stdout and "--kind" in done.stdout


def test_without_torch_the_empirical_commands_say_how_to_install_it(tmp_path):
    # a 'torch' that cannot be imported, as on a theory-only install (pip install . without the torch extra)
    (tmp_path / "fake" / "torch").mkdir(parents=True)
    (tmp_path / "fake" / "torch" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    env = {"PYTHONPATH": str(tmp_path / "fake")}
    done = run_cli("train", "--epochs", "1", "--out", str(tmp_path / "run"), env=env)
    assert_bad_input(done, "symtheory train needs torch, which is not installed: pip install 'symtheory[torch]'")
    assert not (tmp_path / "run").exists()
    theory = run_cli("check-loss", "mae", "--json", env=env)
    assert theory.returncode == 0 and json.loads(theory.stdout)["symmetric"] == "proved"


def test_a_network_that_does_not_take_the_data_is_refused_before_torch_is_imported(tmp_path):
    code = (
        "import sys\n"
        "from symtheory.cli.app import main\n"
        "codes = []\n"
        "for argv in (['train', '--arch', 'resnet32', '--dataset', 'mnist', '--out', sys.argv[1]],\n"
        "             ['train', '--arch', 'vgg16', '--out', sys.argv[1]],\n"
        "             ['grid', '--preset', 'mnist-resnet18', '--dataset', 'cifar10-subset', '--out', sys.argv[1]]):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exc:\n"
        "        codes.append(exc.code)\n"
        "print(codes, 'TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
    )
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == "[2, 2, 2] NO-TORCH", done.stderr
    assert "resnet32 expects 3x32x32 input, got 1x28x28" in lines[0]
    assert "resnet18 expects 1-channel input, got 3x32x32" in lines[2]
    assert not out.exists()


BAD_INPUT = {
    "unknown arch": (["--arch", "vgg16"], "unknown architecture 'vgg16'; choices: mlp"),
    "unknown dataset": (["--dataset", "svhn"], "unknown dataset 'svhn'; choices: mnist"),
    "unknown loss": (["--loss", "hinge"], "unknown loss 'hinge'; known losses: cce"),
    "huge alpha": (["--loss", "rll", "--alpha", "1e400"], "parameter alpha=1e400 is too large for a float64"),
    "unknown preset": (["--preset", "imagenet"], "unknown preset 'imagenet'; choices: cifar10-resnet32"),
    "eta one": (["--eta", "1.0"], "eta must be in [0, 1)"),
    "eta negative": (["--eta", "-0.2"], "eta must be in [0, 1)"),
    "seed negative": (["--seed", "-1"], "seed must be an integer in [0, 2**63), got -1"),
    "network does not fit": (["--arch", "resnet32", "--dataset", "mnist"], "resnet32 expects 3x32x32 input"),
    "existing run": (["--out", "{tmp}/existing"], "already exists; pass --resume"),
    "a grid's folder": (["--out", "{tmp}/grid"], "{tmp}/grid already exists and holds other files than a run "
                        "(a grid's folder, say); choose another --out"),
    "eta with a matrix": (["--noise-matrix", "{tmp}/t.csv", "--eta", "0.3"], "--eta has no effect with it"),
    "alpha twice": (["--loss", "rll", "--alpha", "0.1", "--param", "alpha=0.2"], "give alpha once"),
    "expr and loss": (["--loss", "cce", "--expr", "1 - p"], "give --loss or --expr, not both"),
    "expr without its parameter": (["--expr", "(1 - p**a)/a"], "give every parameter of --expr a value"),
    "expr undefined": (["--expr", "log(p - 1/2)"], "a loss must be defined on the whole open simplex"),
    "expr constant": (["--expr", "1"], "the loss 1 does not depend on g: it has no gradient to train with"),
    "expr empty": (["--expr", " "], "the loss expression (--expr) is empty"),
    "threads zero": (["--threads", "0"], "--threads must be at least 1, got 0"),
    "missing data": (["--data-dir", "{tmp}/empty", "--out", "{tmp}/new"], "mnist data not found or corrupt in {tmp}/empty"),
    "out is a file": (["--out", "{tmp}/existing/config.json"],
                      "{tmp}/existing/config.json is a file, not a run directory; choose another --out"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line(case, tmp_path, data_dir):
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "config.json").write_text("{}")
    (tmp_path / "existing" / "labels.npz").write_bytes(b"")
    (tmp_path / "grid" / "cce-eta0-seed0").mkdir(parents=True)
    (tmp_path / "grid" / "grid.csv").write_text("loss\n")
    (tmp_path / "empty").mkdir()
    template, expected = BAD_INPUT[case]
    args = [a.format(tmp=tmp_path) for a in template]
    if "--data-dir" not in args:
        args += ["--data-dir", str(data_dir)]
    done = run_cli("train", *args, "--epochs", "1", "--subset", "100", "--quiet", timeout=300)
    assert_bad_input(done, expected.format(tmp=tmp_path))
    assert done.stderr.startswith("symtheory: error: "), done.stderr


def test_a_subset_larger_than_the_split_is_refused_and_leaves_no_run(tmp_path, data_dir):
    done = run_cli("train", "--dataset", "cifar10-subset", "--subset", "6000", "--epochs", "1", "--data-dir",
                   str(data_dir), "--out", str(tmp_path / "run"), "--quiet", timeout=300)
    assert_bad_input(done, "--subset must be between 1 and 5,000, the size of the cifar10-subset training split, "
                           "got 6,000")
    assert not (tmp_path / "run").exists()


def test_resume_reads_the_recorded_data_and_refuses_to_end_before_the_recorded_epochs(tmp_path, data_dir):
    run = tmp_path / "run"
    train(build_config(None, subset=100, epochs=2, batch_size=50), run, data_dir=data_dir)
    nowhere = {"SYMTHEORY_DATA": str(tmp_path / "no-data")}
    shorter = run_cli("train", "--resume", str(run), "--epochs", "1", "--quiet", env=nowhere, timeout=300)
    assert_bad_input(shorter, f"{run} has 2 epochs recorded; --epochs 1 would end it before them")
    assert json.loads((run / "summary.json").read_text())["epochs_completed"] == 2
    again = run_cli("train", "--resume", str(run), env=nowhere, timeout=300)
    assert again.returncode == 0, again.stderr
    # a finished run drew an empty progress bar ('epoch ━━━ 2/2  0:00:00 -:--:--') before its summary
    assert "nothing to train: all 2 epochs are recorded (give --epochs with more to extend it)" in " ".join(again.stdout.split())
    assert "━" not in again.stdout + again.stderr
    longer = run_cli("train", "--resume", str(run), "--epochs", "3", "--json", "--quiet", env=nowhere, timeout=300)
    assert longer.returncode == 0, longer.stderr
    assert json.loads(longer.stdout)["epochs_completed"] == 3


def test_a_relative_data_dir_is_recorded_absolute_so_resume_finds_it_from_another_folder(tmp_path, data_dir,
                                                                                        monkeypatch):
    import shutil

    shutil.copytree(data_dir / "cifar-10-partial", tmp_path / "data" / "cifar-10-partial")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    train(build_config(None, dataset="cifar10-subset", arch="mlp", subset=40, epochs=1, batch_size=20), run,
          data_dir="data")
    recorded = json.loads((run / "config.json").read_text())["data"]["source"]
    assert recorded == str(tmp_path / "data" / "cifar-10-partial" / "cifar10_partial.npz")
    nowhere = {"SYMTHEORY_DATA": str(tmp_path / "no-data")}
    done = run_cli("train", "--resume", str(run), "--epochs", "2", "--quiet", "--json", env=nowhere,
                   cwd=tmp_path / "elsewhere", timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["epochs_completed"] == 2
    # a run recorded before sources were absolute: the error says the path is relative, not that it is gone
    config = json.loads((run / "config.json").read_text())
    config["data"]["source"] = "data/cifar-10-partial/cifar10_partial.npz"
    (run / "config.json").write_text(json.dumps(config))
    old = run_cli("train", "--resume", str(run), "--epochs", "3", "--quiet", env=nowhere,
                  cwd=tmp_path / "elsewhere", timeout=300)
    assert_bad_input(old, "; this run read its data from data/cifar-10-partial/cifar10_partial.npz, a path "
                          "relative to the folder it was started in, not found from here: give --data-dir")


def test_resume_names_the_recorded_data_folder_when_it_is_gone(tmp_path, data_dir):
    import shutil

    (tmp_path / "data").mkdir()
    shutil.copytree(data_dir / "cifar-10-partial", tmp_path / "data" / "cifar-10-partial")
    run = tmp_path / "run"
    train(build_config(None, dataset="cifar10-subset", arch="mlp", subset=40, epochs=1, batch_size=20), run,
          data_dir=tmp_path / "data")
    (tmp_path / "data").rename(tmp_path / "moved")
    nowhere = {"SYMTHEORY_DATA": str(tmp_path / "no-data")}
    done = run_cli("train", "--resume", str(run), "--epochs", "2", "--quiet", env=nowhere, timeout=300)
    assert_bad_input(done, f"; this run read its data from {tmp_path / 'data' / 'cifar-10-partial'}"
                           "/cifar10_partial.npz, which is gone: give --data-dir")
    again = run_cli("train", "--resume", str(run), "--epochs", "2", "--quiet", "--json", "--data-dir",
                    str(tmp_path / "moved"), env=nowhere, timeout=300)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["epochs_completed"] == 2
    # back where it was recorded, the data is found without --data-dir (a .npz file, not a folder, was missed)
    (tmp_path / "moved").rename(tmp_path / "data")
    third = run_cli("train", "--resume", str(run), "--epochs", "3", "--quiet", "--json", env=nowhere, timeout=300)
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["epochs_completed"] == 3


def test_a_loss_expression_trains_is_recorded_and_resumes(tmp_path, data_dir):
    run = tmp_path / "expr"
    done = run_cli("train", "--expr", "(1 - p**a)/a", "--param", "a=1/2", "--subset", "100", "--epochs", "1",
                   "--batch-size", "50", "--data-dir", str(data_dir), "--out", str(run), "--json", "--quiet",
                   timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["loss"], summary["loss_expr"]) == ("expr", "(1 - p**a)/a")
    saved = json.loads((run / "config.json").read_text())["train"]
    assert (saved["loss"], saved["loss_expr"], saved["loss_params"]) == ("expr", "(1 - p**a)/a", {"a": 0.5})
    resumed = run_cli("train", "--resume", str(run), "--epochs", "2", "--json", "--quiet", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["epochs_completed"] == 2


def test_threads_sets_torch_threads_of_the_run_and_of_its_resume(tmp_path, data_dir):
    run = tmp_path / "one-thread"
    common = ["--quiet", "--json"]
    done = run_cli("train", "--threads", "1", "--device", "cpu", "--subset", "100", "--epochs", "1", "--batch-size",
                   "50", "--data-dir", str(data_dir), "--out", str(run), *common, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((run / "config.json").read_text())["provenance"]["torch_threads"] == 1
    resumed = run_cli("train", "--resume", str(run), "--threads", "2", "--epochs", "2", *common, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "(torch threads 1 -> 2)" in resumed.stderr


def test_threads_are_restored_after_the_block():
    import torch

    from symtheory.empirical.threads import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    with torch_threads(None):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before


def test_train_json_then_plot(tmp_path, data_dir):
    done = run_cli("train", "--dataset", "cifar10-subset", "--subset", "200", "--loss", "rll", "--eta", "0.2",
                   "--epochs", "2", "--batch-size", "50", "--out", str(tmp_path / "rll"), "--data-dir", str(data_dir),
                   "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "finished" and summary["epochs_completed"] == 2
    assert summary["loss"] == "rll" and summary["loss_params"] == {"alpha": 0.1}
    assert summary["num_train"] == 200 and summary["dataset"] == "cifar10-subset"
    assert 0 <= summary["final"]["j1"] <= 1 and 0 <= summary["final"]["j2"] <= 1

    train(build_config(None, dataset="cifar10-subset", subset=200, loss="cce", eta=0.2, epochs=2, batch_size=50),
          tmp_path / "cce", data_dir=data_dir)
    figure = tmp_path / "fig.png"
    done = run_cli("plot", str(tmp_path), "-o", str(figure), "--kind", "j1j2")
    assert done.returncode == 0, done.stderr
    assert "(2 runs)" in done.stdout
    data = figure.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width == int(2 * 4.2 * 120)  # two panels (cce, rll) at 4.2 inches and 120 dpi


def test_ctrl_c_says_how_to_resume_and_resume_finishes(tmp_path, data_dir):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "symtheory", "train", "--subset", "256", "--epochs", "200", "--out", str(run),
           "--data-dir", str(data_dir), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if metrics.is_file() and metrics.read_text().count("\n") >= 1:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    done = metrics.read_text().count("\n")
    assert proc.returncode == 130, stderr
    assert 1 <= done < 200
    assert stderr.strip().splitlines() == [
        f"symtheory: interrupted after epoch {done}; --resume {run} continues"]
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert load_checkpoint(run / "checkpoint.pt")["epoch"] == done

    resumed = run_cli("train", "--resume", str(run), "--epochs", str(done + 1), "--data-dir", str(data_dir),
                      "--json", "--quiet", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["epochs_completed"] == done + 1


def test_resume_of_a_damaged_run_names_the_file_in_one_line(tmp_path, data_dir):
    run = tmp_path / "run"
    train(build_config(None, subset=100, epochs=1, batch_size=50), run, data_dir=data_dir)
    what_to_do = f"the run cannot be resumed: delete {run} and start it again, or start it afresh with another --out"
    labels = (run / "labels.npz").read_bytes()
    (run / "labels.npz").write_bytes(labels[: len(labels) // 2])
    assert_bad_input(run_cli("train", "--resume", str(run), "--quiet", timeout=300),
                     f"{run / 'labels.npz'} is damaged (BadZipFile); {what_to_do}")
    (run / "labels.npz").write_bytes(labels)
    (run / "config.json").write_text("{}")
    assert_bad_input(run_cli("train", "--resume", str(run), "--quiet", timeout=300),
                     f"{run / 'config.json'} is damaged (KeyError: 'train'); {what_to_do}")


def test_a_nonfinite_loss_is_reported_in_one_line_saying_stopped_once(tmp_path, data_dir):
    done = run_cli("train", "--arch", "mlp", "--dataset", "mnist", "--loss", "cce", "--eta", "0.2", "--epochs", "3",
                   "--lr", "1e30", "--subset", "64", "--device", "cpu", "--data-dir", str(data_dir), "--out",
                   str(tmp_path / "nan"), "--quiet", timeout=300)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "symtheory: training loss became non-finite (nan) in epoch 2; stopped, metrics of epoch 1 kept")


def test_train_help_gives_the_defaults_and_compile_can_be_turned_off(tmp_path, data_dir):
    from symtheory.empirical.config import TrainConfig

    shown = " ".join(run_cli("train", "--help", env={"COLUMNS": "250"}).stdout.split())
    for text in (f"Number of epochs (default {TrainConfig.epochs}, or the preset's;", "(default mlp, or the preset's)",
                 "Batch size of the J1/J2/test evaluation (default 1024)", "--no-compile"):
        assert text in shown, text
    done = run_cli("train", "--no-compile", "--subset", "100", "--epochs", "1", "--batch-size", "50", "--data-dir",
                   str(data_dir), "--out", str(tmp_path / "run"), "--quiet", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["compile"] is False


def test_runs_of_two_noise_matrices_get_their_own_default_folders(tmp_path, data_dir):
    names = []
    for flip in ("1/5", "2/5"):
        keep = "3/5" if flip == "2/5" else "4/5"
        rows = [[keep if j == i else (flip if j == (i + 1) % 10 else "0") for j in range(10)] for i in range(10)]
        matrix = tmp_path / f"t{flip[0]}.csv"
        matrix.write_text("\n".join(",".join(row) for row in rows) + "\n")
        done = run_cli("train", "--noise-matrix", str(matrix), "--subset", "60", "--epochs", "1", "--batch-size", "60",
                       "--data-dir", str(data_dir), "--json", "--quiet", cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr
        names.append(sorted(p.name for p in (tmp_path / "runs").iterdir()))
    assert len(names[0]) == 1 and len(names[1]) == 2
    assert all(n.startswith("mlp-mnist-cce-matrix-") and n.endswith("-seed0") for n in names[1])


def test_resume_of_a_path_that_does_not_exist_is_one_line(tmp_path):
    assert_bad_input(run_cli("train", "--resume", str(tmp_path / "nowhere")), "does not exist")
