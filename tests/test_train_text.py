"""A shortened run of examples/train_text.py: tiny models, a few steps, the held-out loss must fall."""
import numpy as np
import pytest

import lucid
from examples_loader import load_example


@pytest.fixture(scope="module")
def example():
    return load_example("train_text")


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_held_out_loss_falls(example, name):
    text = example.stdlib_text(60_000)
    vocab = example.Vocabulary(text)
    data = vocab.encode(text)
    lucid.manual_seed(0)
    model = example.CharLSTM(len(vocab.chars), 16, 1) if name == "lstm" else \
        example.CharTransformer(len(vocab.chars), 16, 1, 16, heads=2)
    losses = example.train(model, data[:50_000], data[50_000:], steps=20, batch_size=8, length=16, lr=1e-2,
                           evaluations=1, quiet=True)
    first, last = losses[0][1], losses[-1][1]
    assert np.isfinite(last) and last < first - 0.3, losses
    line = example.sample(model, vocab, "def ", 16, chars=10)
    assert line.startswith("def ") and "\n" not in line
