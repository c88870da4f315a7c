"""Benchmark 2: one training step of a 784-256-256-10 ReLU MLP, batch 128, mean cross-entropy, SGD.

One step is: forward, loss, zero the gradients, backward, update every parameter. Three sides
start from the same weights and batch:
- Lucid, written as a user would (`nn.Sequential`, `F.cross_entropy`, `optim.SGD`);
- NumPy by hand: the same forward, the backward of each layer written out, the same update;
- PyTorch, if installed.

    python3 bench/bench_mlp.py
    python3 bench/bench_mlp.py --dtypes float64 --repeats 50
"""
from __future__ import annotations

import argparse

import timing  # noqa: F401  (first: it sets the thread count before NumPy loads)
from timing import compare, duration, np, setting, table, torch

import lucid
import lucid.nn.functional as LF

SIZES = (784, 256, 256, 10)
BATCH, LR = 128, 0.01


def weights(dtype, rng):
    """(W, b) per layer, PyTorch's default initialisation and layout (out_features, in_features)."""
    layers = []
    for n_in, n_out in zip(SIZES, SIZES[1:]):
        bound = 1 / np.sqrt(n_in)
        layers.append((rng.uniform(-bound, bound, (n_out, n_in)).astype(dtype),
                       rng.uniform(-bound, bound, n_out).astype(dtype)))
    return layers


def lucid_step(layers, x, target):
    model = lucid.nn.Sequential(*[m for n_in, n_out in zip(SIZES, SIZES[1:])
                                  for m in (lucid.nn.Linear(n_in, n_out, dtype=x.dtype), lucid.nn.ReLU())][:-1])
    with lucid.no_grad():
        for layer, (w, b) in zip(model[::2], layers):
            layer.weight.data[...] = w
            layer.bias.data[...] = b
    optimizer = lucid.optim.SGD(model.parameters(), lr=LR)
    xs, ts = lucid.tensor(x), lucid.tensor(target)

    def step():
        loss = LF.cross_entropy(model(xs), ts)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def numpy_step(layers, x, target):
    params = [(w.copy(), b.copy()) for w, b in layers]
    rows = np.arange(len(target))

    def step():
        hidden = [x]  # the input of each layer
        for w, b in params[:-1]:
            hidden.append(np.maximum(hidden[-1] @ w.T + b, 0))
        logits = hidden[-1] @ params[-1][0].T + params[-1][1]
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        loss = -(shifted[rows, target] - np.log(total[:, 0])).mean()
        g = e / total  # d loss / d logits = (softmax - one-hot) / batch
        g[rows, target] -= 1
        g /= len(target)
        for i in range(len(params) - 1, -1, -1):
            w, b = params[i]
            gw, gb = g.T @ hidden[i], g.sum(axis=0)
            if i:
                g = (g @ w) * (hidden[i] > 0)  # through the ReLU that made hidden[i]
            w -= LR * gw
            b -= LR * gb
        return loss

    return step


def torch_step(layers, x, target):
    model = torch.nn.Sequential(*[m for n_in, n_out in zip(SIZES, SIZES[1:])
                                  for m in (torch.nn.Linear(n_in, n_out, dtype=getattr(torch, x.dtype.name)),
                                            torch.nn.ReLU())][:-1])
    with torch.no_grad():
        for layer, (w, b) in zip(model[::2], layers):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    xs, ts = torch.from_numpy(x), torch.from_numpy(target)

    def step():
        loss = torch.nn.functional.cross_entropy(model(xs), ts)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def check_same_losses(dtype) -> None:
    """The sides must train the same network: five steps give the same losses on each."""
    rng = np.random.default_rng(0)
    layers, x = weights(dtype, rng), rng.standard_normal((BATCH, SIZES[0])).astype(dtype)
    target = rng.integers(0, SIZES[-1], BATCH)
    steps = [lucid_step(layers, x, target), numpy_step(layers, x, target)]
    if torch:
        steps.append(torch_step(layers, x, target))
    losses = np.array([[float(step()) for _ in range(5)] for step in steps])
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    if not np.allclose(losses, losses[0], rtol=tolerance, atol=tolerance):
        raise SystemExit(f"the sides disagree on the {np.dtype(dtype).name} losses:\n{losses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"one SGD step of a {'-'.join(map(str, SIZES))} ReLU MLP, batch {BATCH}, median of up to "
          f"{args.repeats} repeats; {setting()}\n")
    header = ["dtype", "Lucid", "NumPy", "Lucid/NumPy"] + (["PyTorch", "Lucid/PyTorch"] if torch else [])
    rows = []
    for name in args.dtypes:
        dtype = np.dtype(name).type
        check_same_losses(dtype)
        rng = np.random.default_rng(0)
        layers, x = weights(dtype, rng), rng.standard_normal((BATCH, SIZES[0])).astype(dtype)
        target = rng.integers(0, SIZES[-1], BATCH)
        sides = {"lucid": lucid_step(layers, x, target), "numpy": numpy_step(layers, x, target)}
        if torch:
            sides["torch"] = torch_step(layers, x, target)
        # batches of about 20 steps: each side then runs with its own weights in cache, as a training
        # loop does (one-step batches time every step just after another side's, from cold caches)
        t = compare(sides, repeats=args.repeats, batch_seconds=0.05, budget_seconds=10.0)
        row = [name, duration(t["lucid"]), duration(t["numpy"]), f"{t['lucid'] / t['numpy']:.2f}x"]
        if torch:
            row += [duration(t["torch"]), f"{t['lucid'] / t['torch']:.2f}x"]
        rows.append(row)
    print(table(header, rows))


if __name__ == "__main__":
    main()
