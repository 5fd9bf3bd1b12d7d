"""Training-step throughput (images/s) of the harness against a common-style baseline loop.

ours: the whole training set as one uint8 tensor on the device, batches gathered by index, normalization on
the device, one host sync at the end (on CUDA: bf16 autocast with the loss in fp32, channels_last for conv
nets). baseline: torchvision-style Dataset of PIL images with per-sample ToTensor + Normalize, a shuffling
DataLoader, fp32, ``loss.item()`` every step.

    python benchmarks/train_throughput.py                       # CPU, small sizes (a few minutes)
    python benchmarks/train_throughput.py --device cuda --steps 50 --warmup 10

Rounds alternate between the two loops and the fastest round of each counts, which damps the effect of
other processes on a shared machine.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Callable

import torch

from symtheory.empirical.data import ImageData, Preprocess, load_dataset
from symtheory.empirical.losses import loss_fn
from symtheory.empirical.networks import ARCHITECTURES, build_network
from symtheory.empirical.train import epoch_batches, epoch_generator, make_train_step
from symtheory.errors import BadInput

DATASET_FOR = {"mlp": "mnist", "resnet18": "mnist", "resnet32": "cifar10-subset", "inception-lite": "cifar10-subset"}
SHAPES = {"mnist": (1, 28), "cifar10-subset": (3, 32)}


@dataclass
class Result:
    arch: str
    device: str
    data: str
    ours: float
    baseline: float


def get_data(name: str, data_dir: str | None, n: int) -> tuple[ImageData, str]:
    """The real dataset's first n training images, else random images of its shape."""
    try:
        data = load_dataset(name, data_dir)
        label = name
    except BadInput:
        c, s = SHAPES[name]
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (n, c, s, s), dtype=torch.uint8, generator=g)
        labels = torch.randint(0, 10, (n,), generator=g)
        data = ImageData(name, images, labels, images[:1], labels[:1], 10, (0.5,) * c, (0.25,) * c, "random",
                         torch.arange(n))
        label = f"random {name}-shaped"
    n = min(n, data.train_images.shape[0])
    data.train_images, data.train_labels = data.train_images[:n].contiguous(), data.train_labels[:n].contiguous()
    return data, label


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ours_runner(arch: str, data: ImageData, device: torch.device, batch_size: int) -> Callable[[int], float]:
    """A function running k train steps of the harness's path and returning their seconds."""
    torch.manual_seed(0)
    model = build_network(arch, data.in_channels, data.num_classes, data.image_size).to(device)
    cuda = device.type == "cuda"
    channels_last = cuda and arch != "mlp"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    on_device = data.to(device)
    prep = Preprocess.build(on_device, device, channels_last=channels_last)
    step = make_train_step(model, optimizer, loss_fn("cce"), prep, torch.bfloat16 if cuda else None)
    model.train()
    generator = epoch_generator(0, 1, device)
    n = on_device.train_images.shape[0]

    def run(k: int) -> float:
        batches = []
        while len(batches) < k:
            batches.extend(b for b in epoch_batches(n, batch_size, generator) if b.numel() == batch_size)
        _sync(device)
        start = time.perf_counter()
        total = torch.zeros((), dtype=torch.float64, device=device)
        for idx in batches[:k]:
            total += step(on_device.train_images[idx], on_device.train_labels[idx])[0]
        total.item()
        return time.perf_counter() - start

    return run


class PILDataset(torch.utils.data.Dataset):
    """The common style: one PIL image per sample, converted by torchvision transforms."""

    def __init__(self, data: ImageData):
        from PIL import Image
        from torchvision import transforms

        self.images = data.train_images.permute(0, 2, 3, 1).numpy()
        self.labels = data.train_labels.numpy()
        self.to_pil = lambda a: Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(data.mean, data.std)])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.to_pil(self.images[i])), int(self.labels[i])


def baseline_runner(arch: str, data: ImageData, device: torch.device, batch_size: int,
                    workers: int) -> Callable[[int], float]:
    """A function running k train steps of the common-style loop and returning their seconds."""
    torch.manual_seed(0)
    model = build_network(arch, data.in_channels, data.num_classes, data.image_size).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = torch.utils.data.DataLoader(PILDataset(data), batch_size=batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0)
    criterion = torch.nn.CrossEntropyLoss()
    model.train()

    def forever():
        while True:
            yield from loader

    batches = forever()

    def run(k: int) -> float:
        _sync(device)
        start = time.perf_counter()
        for _ in range(k):
            x, y = next(batches)
            loss = criterion(model(x.to(device)), y.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
        _sync(device)
        return time.perf_counter() - start

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default=",".join(ARCHITECTURES), help="comma-separated architectures")
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (CPU, and CUDA when present)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed rounds, alternating ours and baseline; the fastest round counts")
    parser.add_argument("--images", type=int, default=4096, help="training images held (first N of the set)")
    parser.add_argument("--workers", type=int, default=None, help="baseline DataLoader workers (default 0 on CPU, 4 on CUDA)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    if args.device == "auto":
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    else:
        devices = [torch.device(args.device)]
    results = []
    for device in devices:
        workers = args.workers if args.workers is not None else (4 if device.type == "cuda" else 0)
        for arch in args.archs.split(","):
            data, label = get_data(DATASET_FOR[arch], args.data_dir, args.images)
            ours = ours_runner(arch, data, device, args.batch_size)
            base = baseline_runner(arch, data, device, args.batch_size, workers)
            ours(args.warmup), base(args.warmup)
            best_ours = best_base = float("inf")
            for _ in range(args.repeats):
                best_ours = min(best_ours, ours(args.steps))
                best_base = min(best_base, base(args.steps))
            images = args.steps * args.batch_size
            results.append(Result(arch, str(device), label, images / best_ours, images / best_base))
            print(f"  measured {arch} on {device}", flush=True)

    precision = {"cpu": "fp32", "cuda": "bf16 + channels_last (conv)"}
    print(f"\ntrain-step throughput, batch {args.batch_size}, best of {args.repeats} rounds of {args.steps} steps "
          f"after {args.warmup} warm-up steps, "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    header = f"| {'arch':<15}| {'device':<7}| {'data':<24}| {'ours img/s':>11} | {'baseline img/s':>15} | {'speed-up':>8} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in results:
        print(f"| {r.arch:<15}| {r.device:<7}| {r.data:<24}| {r.ours:>11.0f} | {r.baseline:>15.0f} | "
              f"{r.ours / r.baseline:>7.2f}x |")
    print("ours: uint8 data on the device, device-side normalization, "
          + "; ".join(f"{d}: {p}" for d, p in precision.items() if any(r.device.startswith(d) for r in results))
          + ". baseline: DataLoader + PIL ToTensor/Normalize per sample, fp32, loss.item() per step.")


if __name__ == "__main__":
    main()
