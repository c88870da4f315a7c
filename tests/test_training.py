"""Real training: shortened runs of examples/train_digits.py must learn the digits.

The thresholds are ones a broken gradient cannot reach (measured with seed 0): with the first or
the last layer's gradient missing, the MLP's last epoch ends with a training loss above 0.2 and a
test accuracy below 96%, while the working run ends below 0.05 and near 97%; with the CNN's last
layer frozen, its loss stays above 0.2. (A frozen first conv layer still learns well on random
features, so the convolution's gradient is checked against PyTorch in test_torch_parity.py.)
"""
import pytest

import lucid
from examples_loader import load_example

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def example():
    return load_example("train_digits")


def test_mlp_learns_the_digits(example):
    lucid.manual_seed(0)
    accuracy, losses = example.train(example.mlp(), example.load_digits(0), epochs=8, lr=1e-2, quiet=True)
    assert losses[-1] < 0.1 < losses[0]
    assert accuracy >= 0.96


def test_cnn_learns_the_digits(example):
    lucid.manual_seed(0)
    accuracy, losses = example.train(example.cnn(), example.load_digits(0), epochs=4, lr=5e-3, quiet=True)
    assert losses[-1] < 0.1 < losses[0]
    assert accuracy >= 0.97


def test_the_script_reports_progress_and_accuracy(example, capsys):
    example.main(["--model", "mlp", "--epochs", "2"])
    out = capsys.readouterr().out
    assert "epoch 1/2 [" in out and "epoch 2/2 [########################]" in out
    assert "MLP test accuracy:" in out
