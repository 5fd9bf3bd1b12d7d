"""``symtheory presets`` shows the paper's experiments as the trainer runs them (without importing torch), and
``symtheory data`` says which datasets a data directory holds, checked as training loads them, and how to
provide the others."""

from __future__ import annotations

import json
import subprocess
import sys

from cli_helpers import assert_bad_input, run_cli
from symtheory.empirical.presets import PRESETS, get_preset


def test_presets_lists_every_preset_and_shows_one_in_full():
    listed = run_cli("presets")
    assert listed.returncode == 0, listed.stderr
    assert [line.split(":")[0] for line in listed.stdout.splitlines()[:len(PRESETS)]] == list(PRESETS)
    full = run_cli("presets", "mnist-resnet18")
    assert full.returncode == 0, full.stderr
    lines = full.stdout.splitlines()
    assert "  adam lr 0.001 (constant), weight decay 0" in lines
    assert "  data mnist, network resnet18, 200 epochs, batch 128" in lines
    assert "  normalize on, augment off; loss parameters: rll: alpha = 0.1" in lines
    assert any(line.startswith("    rll_alpha: 0.1, as in the authors' code") for line in lines)
    assert "one line each" in run_cli("presets", "--help", env={"COLUMNS": "200"}).stdout
    sgd = run_cli("presets", "cifar10-resnet32").stdout.splitlines()
    assert "  sgd lr 0.1 (multistep:100,150:0.1), momentum 0.9, weight decay 0.0001" in sgd


def test_presets_json_is_the_preset_record_and_a_bad_name_is_one_line():
    done = run_cli("presets", "cifar10-inception-authors-code", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record == json.loads(json.dumps(get_preset("cifar10-inception-authors-code").describe()))
    assert (record["lr"], record["normalize"]) == (0.1, False)
    assert [p["name"] for p in json.loads(run_cli("presets", "--json").stdout)] == list(PRESETS)
    assert_bad_input(run_cli("presets", "resnet50"), "unknown preset 'resnet50'; choices: cifar10-resnet32")


def test_presets_does_not_import_torch():
    code = ("import sys\nfrom symtheory.cli.app import main\ntry:\n    main(['presets', 'mnist-resnet18'])\n"
            "except SystemExit as stop:\n    assert stop.code == 0, stop.code\nprint('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr


def test_data_reports_ready_and_missing_datasets_with_what_to_do(data_dir, tmp_path):
    done = run_cli("data", "--data-dir", str(data_dir), "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    status = {s["name"]: s for s in json.loads(done.stdout)["datasets"]}
    assert (status["mnist"]["status"], status["mnist"]["train"], status["mnist"]["test"]) == ("ready", 60000, 10000)
    assert (status["cifar10-subset"]["status"], status["cifar10-subset"]["train"]) == ("ready", 5000)
    assert status["cifar10"]["status"] == "missing"
    assert "--dataset cifar10-subset trains on the real 5,000-image subset" in status["cifar10"]["detail"]
    empty = run_cli("data", "--data-dir", str(tmp_path), "--dataset", "mnist,cifar10-subset,MNIST")
    assert empty.returncode == 0, empty.stderr
    lines = empty.stdout.splitlines()
    assert lines[0] == f"data directory: {tmp_path}"
    assert lines[1].startswith(f"missing mnist: not found or corrupt in {tmp_path / 'MNIST' / 'raw'} (no such folder)")
    assert "cannot be downloaded" in lines[2] and len(lines) == 3
    assert_bad_input(run_cli("data", "--dataset", "cifar100"), "unknown dataset 'cifar100'")


def test_data_tells_a_corrupt_file_from_a_missing_one(data_dir, tmp_path):
    import shutil

    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(data_dir / "MNIST" / "raw", raw)
    damaged = raw / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    done = run_cli("data", "--data-dir", str(tmp_path), "--dataset", "mnist,fashion-mnist", "--json", timeout=300)
    mnist, fashion = json.loads(done.stdout)["datasets"]
    assert (mnist["status"], fashion["status"]) == ("corrupt", "missing")
    assert "t10k-labels-idx1-ubyte.gz: MD5 differs from the canonical file" in mnist["detail"]


def test_data_calls_an_empty_folder_missing_not_corrupt(tmp_path):
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "cifar-10-batches-py").mkdir()
    done = run_cli("data", "--data-dir", str(tmp_path), "--dataset", "mnist,cifar10", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    assert [s["status"] for s in json.loads(done.stdout)["datasets"]] == ["missing", "missing"]
