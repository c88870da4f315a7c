"""Train a character-level LSTM and a small Transformer on Python's own standard library, with Lucid.

    python examples/train_text.py                      # both models
    python examples/train_text.py --model lstm --steps 600 --hidden 256

The text is the source of the standard library's modules (found next to `os.py`): nothing is
downloaded. The last 10% of it is held out. Each model reads windows of `--length` characters and
learns to predict each next character; the held-out loss (cross-entropy, nats per character) is
printed as it falls, and at the end each model writes a line of its own Python.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

# These matrices are small (32 x 128 x 512): BLAS threads cost more in handing work over than they
# save, and on a busy machine their spinning made each step 25x slower. One thread, unless told.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after the thread settings, which BLAS reads when it loads)

import lucid  # noqa: E402
from lucid import nn, optim  # noqa: E402

STDLIB_MODULES = ("os.py", "functools.py", "collections/__init__.py", "pathlib/_local.py", "pathlib.py",
                  "argparse.py", "textwrap.py", "string.py", "random.py", "typing.py", "dataclasses.py")


def stdlib_text(max_chars: int) -> str:
    """Up to max_chars of standard-library source, from the modules above that this Python has."""
    root = os.path.dirname(os.__file__)
    parts = []
    for name in STDLIB_MODULES:
        path = os.path.join(root, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                parts.append(f.read())
    return "\n".join(parts)[:max_chars]


class Vocabulary:
    """The characters of the text, each an index; any other character reads as the first (a space)."""

    def __init__(self, text: str):
        self.chars = sorted(set(text) | {" "}, key=lambda c: (c != " ", c))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index.get(c, 0) for c in text], dtype=np.int64)

    def decode(self, indices: np.ndarray) -> str:
        return "".join(self.chars[i] for i in indices)


class CharLSTM(nn.Module):
    def __init__(self, vocab: int, hidden: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return self.head(self.lstm(self.embed(x))[0])


class CharTransformer(nn.Module):
    """A decoder-only Transformer: learned positions, pre-norm encoder layers under a causal mask."""

    def __init__(self, vocab: int, hidden: int, layers: int, length: int, heads: int = 4):
        super().__init__()
        self.embed, self.position = nn.Embedding(vocab, hidden), nn.Embedding(length, hidden)
        layer = nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(hidden))
        self.head = nn.Linear(hidden, vocab)
        self.causal = lucid.tensor(np.triu(np.ones((length, length), bool), 1))  # True: a later character

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        n = x.shape[1]
        h = self.embed(x) + self.position(lucid.arange(n))
        return self.head(self.encoder(h, self.causal[:n, :n]))


def batch(data: np.ndarray, size: int, length: int, rng: np.random.Generator) -> tuple[lucid.Tensor, lucid.Tensor]:
    """`size` random windows of `length` characters and, for each, the characters that follow."""
    starts = rng.integers(0, len(data) - length - 1, size)
    windows = np.stack([data[s:s + length + 1] for s in starts])
    return lucid.tensor(windows[:, :-1]), lucid.tensor(windows[:, 1:])


def loss_of(model: nn.Module, x: lucid.Tensor, y: lucid.Tensor) -> lucid.Tensor:
    logits = model(x)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def held_out_loss(model: nn.Module, batches: list[tuple[lucid.Tensor, lucid.Tensor]]) -> float:
    model.eval()
    with lucid.no_grad():
        loss = float(np.mean([loss_of(model, x, y).item() for x, y in batches]))
    model.train()
    return loss


def progress(step: int, total: int, loss: float, started: float, width: int = 30) -> None:
    """A bar redrawn in place: steps done, the last training loss, time so far."""
    done = width * step // total
    sys.stderr.write(f"\r  [{'#' * done}{'.' * (width - done)}] {step}/{total} loss {loss:.3f} "
                     f"{time.perf_counter() - started:.0f}s")
    sys.stderr.flush()
    if step == total:
        sys.stderr.write("\n")


def sample(model: nn.Module, vocab: Vocabulary, prompt: str, length: int, chars: int = 80,
           temperature: float = 0.7, seed: int = 0) -> str:
    """A line written by the model: each next character drawn from its softmax, until a newline."""
    rng = np.random.default_rng(seed)
    text = prompt
    model.eval()
    with lucid.no_grad():
        for _ in range(chars):
            x = lucid.tensor(vocab.encode(text[-length:])[None])
            logits = model(x)[0, -1].data.astype(np.float64) / temperature
            p = np.exp(logits - logits.max())
            c = vocab.chars[rng.choice(len(p), p=p / p.sum())]
            if c == "\n":
                break
            text += c
    model.train()
    return text


def train(model: nn.Module, data: np.ndarray, held_out: np.ndarray, steps: int, batch_size: int, length: int,
          lr: float, seed: int = 0, evaluations: int = 5, quiet: bool = False) -> list[tuple[int, float]]:
    """Adam with a cosine schedule; returns the held-out loss (step, loss) at the start and at
    `evaluations` points along the way, the last after the last step."""
    rng = np.random.default_rng(seed)
    checks = [batch(held_out, batch_size, length, np.random.default_rng(seed + 1)) for _ in range(4)]
    optimizer = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    losses = [(0, held_out_loss(model, checks))]
    if not quiet:
        print(f"  held-out loss at step 0: {losses[0][1]:.3f}")
    started = time.perf_counter()
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        loss = loss_of(model, *batch(data, batch_size, length, rng))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if not quiet:
            progress(step, steps, loss.item(), started)
        if step % max(steps // evaluations, 1) == 0 or step == steps:
            if losses[-1][0] != step:
                losses.append((step, held_out_loss(model, checks)))
                if not quiet:
                    sys.stderr.write("\n" if step < steps else "")  # the bar ends its own line at the end
                    print(f"  held-out loss at step {step}: {losses[-1][1]:.3f}")
    return losses


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("lstm", "transformer", "both"), default="both")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=64, help="characters per training window")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--chars", type=int, default=400_000, help="characters of source to read")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    text = stdlib_text(args.chars)
    vocab = Vocabulary(text)
    data = vocab.encode(text)
    split = int(0.9 * len(data))
    print(f"{len(text):,} characters of the standard library's source, {len(vocab.chars)} distinct; "
          f"{len(data) - split:,} held out (uniform guessing: loss {math.log(len(vocab.chars)):.2f})")
    for name in ("lstm", "transformer") if args.model == "both" else (args.model,):
        lucid.manual_seed(args.seed)
        model = CharLSTM(len(vocab.chars), args.hidden, args.layers) if name == "lstm" else \
            CharTransformer(len(vocab.chars), args.hidden, args.layers, args.length)
        print(f"{name}: {sum(p.data.size for p in model.parameters()):,} parameters, {args.steps} steps of "
              f"{args.batch} x {args.length} characters")
        started = time.perf_counter()
        losses = train(model, data[:split], data[split:], args.steps, args.batch, args.length, args.lr, args.seed)
        seconds = time.perf_counter() - started
        print(f"{name}: held-out loss {losses[0][1]:.3f} -> {losses[-1][1]:.3f} in {seconds:.0f} s")
        print(f"{name} writes: {sample(model, vocab, 'def ', args.length)!r}")


if __name__ == "__main__":
    main()
