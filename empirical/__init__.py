"""The empirical side (PyTorch): memorization of noisy labels, measured by J1 and J2 (Patel & Sastry 2021).

Modules: ``losses`` (torch forms of the registry's losses), ``networks`` (mlp, resnet18, resnet32,
inception-lite), ``config``/``presets`` (TrainConfig and the paper's experiments; torch-free), ``data``
(datasets held as uint8 tensors on the device), ``label_noise`` (seeded symmetric, pair and matrix noise),
``train`` (the loop), ``metrics`` (J1/J2 counting), ``checkpoint``, ``run_dir`` and ``interrupts`` (the
run's files, each written whole even under Ctrl-C), ``plots`` (the paper's figures). Importing this package
imports nothing heavy.
"""
