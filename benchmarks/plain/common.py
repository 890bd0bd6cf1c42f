"""What every plain script shares: flags, the task's arrays, and the JSON line it prints."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def parse(description: str):  # noqa: ANN201 - argparse.Namespace
    """--epochs, --subset, --threads, --data-dir."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=3, help="epochs (default: 3)")
    p.add_argument("--subset", type=int, default=None, help="first N training samples (default: all)")
    p.add_argument("--threads", type=int, default=2, help="framework threads (default: 2)")
    p.add_argument("--data-dir", default=None, help="data folder (default: $FRAMEBENCH_DATA or cache)")
    p.add_argument("--loader", default="auto", choices=("auto", "torchvision", "numpy"),
                   help="PyTorch scripts: torchvision.datasets + DataLoader (auto: where torchvision imports) or the "
                        "NumPy arrays as in-memory tensors (default: auto)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (default: 2)")
    return p.parse_args()


def arrays(task: str, data_dir: str | None, subset: int | None):  # noqa: ANN201
    """The task's training arrays, as any user would get them from a loader: (X, y)."""
    from tasks import registry

    data = registry.get(task).load(data_dir)
    n = subset or len(data.y_train)
    return data.X_train[:n], data.y_train[:n]


def torchvision_loader(task: str, data_dir: str | None, subset: int | None, batch_size: int, workers: int,
                       pin_memory: bool = False):  # noqa: ANN201 - (torch.utils.data.DataLoader, samples) or None
    """The training set the way a PyTorch user loads it: torchvision.datasets + a shuffling DataLoader with workers.

    The files are the ones the workbench verified (sha256 for MNIST; torchvision checks CIFAR-10's md5 before it
    unpickles): MNIST's .gz files are unpacked once into the cache in torchvision's layout (MNIST/raw/); CIFAR-10's
    extracted folder is used as it is. None, after one line on stderr, where torchvision cannot be imported.
    """
    try:
        import torch
        from torchvision import datasets, transforms
    except ImportError as exc:
        print(f"{task}: torchvision cannot be imported ({exc}; the CPU profile has none): the NumPy arrays instead",
              file=sys.stderr)  # fmt: skip
        return None
    if task == "mnist":
        import gzip
        import shutil

        from tasks.datasets import MNIST_FILES
        from tasks.download import cache_dir, fetch

        root = cache_dir() / "torchvision"
        raw = root / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for name, remote in MNIST_FILES.items():
            target = raw / name.removesuffix(".gz")
            if not target.exists():
                with gzip.open(fetch(remote, "mnist", data_dir)) as src, open(f"{target}.tmp", "wb") as dst:
                    shutil.copyfileobj(src, dst)
                Path(f"{target}.tmp").replace(target)
        to_vector = transforms.Compose([transforms.ToTensor(), transforms.Lambda(torch.flatten)])  # pixels / 255, 784
        dataset = datasets.MNIST(str(root), train=True, transform=to_vector, download=False)
    elif task == "cifar10":
        from tasks.cifar10 import channel_stats
        from tasks.datasets import CIFAR10_ARCHIVE, CIFAR10_FOLDER, _find_or_extract

        folder = _find_or_extract("cifar10", CIFAR10_FOLDER, CIFAR10_ARCHIVE, data_dir)
        try:
            dataset = datasets.CIFAR10(str(folder.parent), train=True, download=False)
        except RuntimeError as exc:  # torchvision checks each batch file's md5: a non-canonical copy is refused
            print(f"cifar10: torchvision refuses {folder} ({exc}): the NumPy arrays instead", file=sys.stderr)
            return None
        mean, std = channel_stats(dataset.data)  # the workbench's normalisation: training-set statistics per channel
        dataset.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean / 255).tolist(), (std / 255).tolist())])
    else:
        print(f"{task}: torchvision has no dataset for it: the NumPy arrays instead", file=sys.stderr)
        return None
    n = min(subset or len(dataset), len(dataset))
    dataset = torch.utils.data.Subset(dataset, range(n))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0, pin_memory=pin_memory)  # fmt: skip
    return loader, n


def report(epoch_seconds: list[float], num_samples: int) -> None:
    """Print one JSON line: per-epoch times and the steady-state throughput (epochs after the first)."""
    steady = statistics.median(epoch_seconds[1:]) if len(epoch_seconds) > 1 else epoch_seconds[0]
    print(json.dumps({"epoch_seconds": epoch_seconds, "throughput": num_samples / steady}))
