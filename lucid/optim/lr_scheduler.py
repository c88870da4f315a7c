"""Learning-rate schedules: after each epoch, `scheduler.step()` sets every group's lr.

Each schedule is a closed-form function of the epoch count and the group's initial lr, so the lr
at any epoch can be read off its formula (PyTorch computes the same values recursively).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import OpError
from .optimizer import HYPERPARAMETERS, Optimizer


class LRScheduler:
    """Base class: subclasses define `lr_at(base_lr, epoch)`.

    Creating a scheduler sets the lrs for epoch 0; each `step()` moves to the next epoch."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a lucid.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise OpError(f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs 'initial_lr' in "
                              f"every parameter group (load the optimizer's state dict first)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The lrs set by the latest step()."""
        return list(self._last_lr)

    def step(self) -> None:
        """Move to the next epoch and set every group's lr. A schedule that gives a negative or
        non-finite lr (a negative gamma, a lambda returning -1) is an error here; PyTorch would
        silently step uphill. The optimizer is left unchanged then."""
        epoch = self.last_epoch + 1
        lrs = [self.lr_at(base_lr, epoch, i) for i, base_lr in enumerate(self.base_lrs)]
        valid, expected = HYPERPARAMETERS["lr"]
        for i, lr in enumerate(lrs):
            if not valid(lr):
                raise OpError(f"{type(self).__name__}: epoch {epoch} gives parameter group {i} the learning rate "
                              f"{lr!r}; it must be {expected}")
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self.last_epoch, self._last_lr = epoch, lrs

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (and functions, which cannot be saved)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size): decay by `gamma` every `step_size` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if step_size < 1:
            raise OpError(f"StepLR: step_size must be a positive integer, got {step_size}")
        if not HYPERPARAMETERS["lr"][0](gamma):
            raise OpError(f"StepLR: gamma must be a finite number >= 0, got {gamma!r} (the lr would turn negative)")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: half a cosine
    from the initial lr down to `eta_min` over `T_max` epochs."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max < 1:
            raise OpError(f"CosineAnnealingLR: T_max must be a positive integer, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch), with one function for all groups or one per group."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1):
        groups = len(optimizer.param_groups)
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * groups
        else:
            if not isinstance(lr_lambda, (list, tuple)) or not all(callable(f) for f in lr_lambda):
                raise OpError(f"LambdaLR: lr_lambda must be a function of the epoch, or a list of them (one per "
                              f"parameter group), got {lr_lambda!r}")
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != groups:
                raise OpError(f"LambdaLR: got {len(self.lr_lambdas)} lr_lambdas for {groups} parameter groups")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return base_lr * self.lr_lambdas[group](epoch)
