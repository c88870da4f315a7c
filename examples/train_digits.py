"""Train an MLP and a small CNN on scikit-learn's 8x8 handwritten digits, with Lucid.

    pip install scikit-learn        # the optional extra: pip install "lucid[examples]"
    python examples/train_digits.py             # both models
    python examples/train_digits.py --model cnn --epochs 10

The digits (1,797 images, 8x8 pixels, 16 grey levels) ship with scikit-learn: nothing is
downloaded. 20% of them are held out for testing. The training loop is PyTorch's, line for line:
zero_grad, forward, loss, backward, step.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

import lucid
from lucid import nn, optim
from lucid.optim.lr_scheduler import CosineAnnealingLR
from lucid.utils.data import DataLoader, TensorDataset


def load_digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): images (N, 1, 8, 8) scaled to [0, 1], labels 0-9."""
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # a channel axis, for the CNN
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target.astype(np.int64), test_size=0.2,
                                                        random_state=seed, stratify=digits.target)
    return x_train, y_train, x_test, y_test


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn() -> nn.Module:
    """Two conv blocks; BatchNorm lets it train in a few epochs at a high learning rate."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 2 x 2
        nn.Flatten(), nn.Linear(128, 10),
    )


MODELS: dict[str, Callable[[], nn.Module]] = {"mlp": mlp, "cnn": cnn}


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with lucid.no_grad():
        predicted = model(lucid.tensor(x)).data.argmax(axis=1)
    model.train()
    return float((predicted == y).mean())


class ProgressBar:
    """One line per epoch: redrawn in place after each batch on a terminal, printed once otherwise."""

    def __init__(self, epoch: int, epochs: int, batches: int, width: int = 24):
        self.label, self.batches, self.width = f"epoch {epoch:{len(str(epochs))}d}/{epochs}", batches, width
        self.live = sys.stdout.isatty()
        self.start = time.perf_counter()

    def line(self, done: int, loss: float) -> str:
        filled = self.width * done // self.batches
        bar = "#" * filled + "." * (self.width - filled)
        return f"{self.label} [{bar}] loss {loss:.4f} {time.perf_counter() - self.start:5.1f}s"

    def update(self, done: int, loss: float) -> None:
        if self.live:
            print("\r" + self.line(done, loss), end="", flush=True)

    def close(self, loss: float, extra: str) -> None:
        print(("\r" if self.live else "") + self.line(self.batches, loss) + extra, flush=True)


def train(model: nn.Module, data: tuple, epochs: int, lr: float, batch_size: int = 32, seed: int = 0,
          quiet: bool = False) -> tuple[float, list[float]]:
    """Train with Adam and a cosine learning-rate schedule; return the final test accuracy and the
    mean training loss of each epoch."""
    x_train, y_train, x_test, y_test = data
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True,
                        generator=np.random.default_rng(seed))
    optimizer = optim.Adam(model.parameters(), lr=lr)
    schedule = CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(1, epochs + 1):
        bar = None if quiet else ProgressBar(epoch, epochs, len(loader))
        total = 0.0
        for i, (x, y) in enumerate(loader, start=1):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item()
            if bar:
                bar.update(i, total / i)
        schedule.step()
        losses.append(total / len(loader))
        if bar:
            bar.close(total / len(loader), f"  test accuracy {accuracy(model, x_test, y_test):.2%}")
    return accuracy(model, x_test, y_test), losses


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=[*MODELS, "both"], default="both")
    parser.add_argument("--epochs", type=int, default=None, help="default: 20 for the MLP, 15 for the CNN")
    parser.add_argument("--lr", type=float, default=None, help="Adam's learning rate (default: 0.01 / 0.005)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = load_digits(args.seed)
    print(f"digits: {len(data[0])} training and {len(data[2])} test images")
    settings = {"mlp": (20, 1e-2), "cnn": (15, 5e-3)}  # (epochs, lr)
    for name in MODELS if args.model == "both" else [args.model]:
        lucid.manual_seed(args.seed)
        model = MODELS[name]()
        epochs, lr = settings[name]
        print(f"\n{name.upper()}: {sum(p.numel() for p in model.parameters()):,} parameters\n{model}")
        start = time.perf_counter()
        acc, _ = train(model, data, args.epochs or epochs, args.lr or lr, seed=args.seed)
        print(f"{name.upper()} test accuracy: {acc:.2%} ({time.perf_counter() - start:.1f}s)")


if __name__ == "__main__":
    main()
