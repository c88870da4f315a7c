"""Learning-rate schedules: after each epoch, `scheduler.step()` sets every group's lr.

Each schedule is a closed-form function of the epoch count and the group's initial lr, so the lr
at any epoch can be read off its formula (PyTorch computes the same values recursively). Two are
not schedules of the epoch: ReduceLROnPlateau follows a metric, and SequentialLR hands each epoch
to one of its schedulers.
"""
from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..creation import check_count
from ..errors import OpError
from .optimizer import HYPERPARAMETERS, Optimizer, check_group


def _check_optimizer(name: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{name}: expected a lucid.optim.Optimizer, got {type(optimizer).__name__}")


def _half_cosine(start: float, end: float, fraction: float) -> float:
    """From `start` (fraction 0) down or up to `end` (fraction 1) along half a cosine: slow at both ends."""
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


class LRScheduler:
    """Base class: subclasses define `lr_at(base_lr, epoch)`.

    Creating a scheduler sets the lrs for epoch 0; each `step()` moves to the next epoch."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        _check_optimizer(type(self).__name__, optimizer)
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
        """Move to the next epoch and set every group's lr."""
        self._step_to(self.last_epoch + 1)

    def _step_to(self, epoch: Any) -> None:
        """Set every group's lr to the schedule's value at `epoch`. A schedule that gives a negative
        or non-finite lr (a negative gamma, a lambda returning -1) is an error here; PyTorch would
        silently step uphill. The optimizer is left unchanged then."""
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


def _check_positive_integer(name: str, argument: str, value: Any) -> None:
    """A number of epochs or steps: an int (not a float or a bool, see `check_count`), at least 1."""
    check_count(value, argument, name)
    if value < 1:
        raise OpError(f"{name}: {argument} must be a positive integer, got {value!r}")


def _check_finite_at_least_zero(name: str, argument: str, value: Any) -> None:
    """A factor of the lr or a floor for it: negative, it would make the lr negative."""
    valid, expected = HYPERPARAMETERS["lr"]
    if not valid(value):
        raise OpError(f"{name}: {argument} must be {expected}, got {value!r}")


def _check_milestones(name: str, milestones: Any) -> list[int]:
    """Epochs at which a schedule changes, as a list: ints >= 0 (PyTorch never reaches a negative
    milestone; Lucid refuses it rather than ignore it)."""
    if not isinstance(milestones, Iterable) or isinstance(milestones, str):
        raise OpError(f"{name}: milestones must be a list of epochs (ints >= 0), got {milestones!r}")
    milestones = list(milestones)
    for milestone in milestones:
        check_count(milestone, "each milestone", name)
    return milestones


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size): decay by `gamma` every `step_size` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        _check_positive_integer("StepLR", "step_size", step_size)
        _check_finite_at_least_zero("StepLR", "gamma", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: half a cosine
    from the initial lr down to `eta_min` over `T_max` epochs."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        _check_positive_integer("CosineAnnealingLR", "T_max", T_max)
        _check_finite_at_least_zero("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return _half_cosine(base_lr, self.eta_min, epoch / self.T_max)


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


def _per_group(name: str, argument: str, value: Any, optimizer: Optimizer) -> list[Any]:
    """`value` for every parameter group: one value for all, or a list with one per group."""
    groups = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [value] * groups
    if len(value) != groups:
        raise OpError(f"{name}: expected {groups} values of {argument} (one per parameter group), got {len(value)}")
    return list(value)


class MultiStepLR(LRScheduler):
    """lr = initial_lr * gamma ** (the number of milestones <= epoch): decay by `gamma` at each
    milestone (a milestone listed twice decays twice)."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1):
        milestones = _check_milestones("MultiStepLR", milestones)
        _check_finite_at_least_zero("MultiStepLR", "gamma", gamma)
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** epoch: decay by `gamma` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        _check_finite_at_least_zero("ExponentialLR", "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return base_lr * self.gamma ** epoch


class LinearLR(LRScheduler):
    """lr = initial_lr * factor, the factor going linearly from `start_factor` to `end_factor` over
    `total_iters` epochs and staying there (a warm-up, with the defaults)."""

    start_factor: float
    end_factor: float
    total_iters: int

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not isinstance(start_factor, numbers.Real) or not 0 < start_factor <= 1:
            raise OpError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not isinstance(end_factor, numbers.Real) or not 0 <= end_factor <= 1:
            raise OpError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        _check_positive_integer("LinearLR", "total_iters", total_iters)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        progress = min(self.total_iters, epoch) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: half a cosine from the initial lr down to `eta_min` over T_i epochs, then a restart at
    the initial lr; the first period is T_0 epochs, each next one T_mult times longer.

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    with T_cur the epochs since the last restart. `step(epoch)` may be given a fractional epoch
    (`epoch + batch / batches`, to anneal within an epoch); a later `step()` goes on from there."""

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        _check_positive_integer("CosineAnnealingWarmRestarts", "T_0", T_0)
        _check_positive_integer("CosineAnnealingWarmRestarts", "T_mult", T_mult)
        _check_finite_at_least_zero("CosineAnnealingWarmRestarts", "eta_min", eta_min)
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        super().__init__(optimizer, last_epoch)

    def step(self, epoch: float | None = None) -> None:
        """Move to the next epoch, or to `epoch` (a number >= 0, perhaps fractional)."""
        if epoch is None:
            epoch = self.last_epoch + 1
        elif not isinstance(epoch, numbers.Real) or not 0 <= epoch < math.inf:
            raise OpError(f"CosineAnnealingWarmRestarts: epoch must be a finite number >= 0, got {epoch!r}")
        self._step_to(epoch)

    def period(self, epoch: float) -> tuple[float, int]:
        """(T_cur, T_i): the epochs since the latest restart at or before `epoch`, and the length
        of the period it began."""
        if self.T_mult == 1:
            return epoch % self.T_0, self.T_0
        since, length = epoch, self.T_0
        while since >= length:
            since, length = since - length, length * self.T_mult
        return since, length

    def lr_at(self, base_lr: float, epoch: float, group: int) -> float:
        since, length = self.period(epoch)
        return _half_cosine(base_lr, self.eta_min, since / length)


class OneCycleLR(LRScheduler):
    """The 1cycle policy: the lr rises from max_lr / div_factor to `max_lr` over the first
    `pct_start` of `total_steps`, then anneals to max_lr / (div_factor * final_div_factor) (with
    `three_phase`, it first comes back down to the start, then anneals). The momentum (or Adam's
    beta1) moves the other way, between `max_momentum` and `base_momentum`, if `cycle_momentum`.
    Step it after every batch: stepping past `total_steps` is an error, as in PyTorch."""

    total_steps: int
    anneal_strategy: str
    cycle_momentum: bool
    phases: list[tuple[float, str, str, str, str]]

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85, max_momentum: float | Sequence[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1):
        name = "OneCycleLR"
        _check_optimizer(name, optimizer)
        if total_steps is not None:
            _check_positive_integer(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_integer(name, "epochs", epochs)
            _check_positive_integer(name, "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise OpError(f"{name}: give either total_steps or both epochs and steps_per_epoch")
        if not isinstance(pct_start, numbers.Real) or not 0 <= pct_start <= 1:
            raise OpError(f"{name}: pct_start must be a number in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise OpError(f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        for argument, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            if not HYPERPARAMETERS["lr"][0](value) or value == 0:
                raise OpError(f"{name}: {argument} must be a finite number > 0, got {value!r}")
        self.total_steps, self.anneal_strategy, self.cycle_momentum = total_steps, anneal_strategy, cycle_momentum
        warm_up_end = float(pct_start * total_steps) - 1
        # each phase: (its last step, the group keys of its start and end lr, and of its start and end momentum)
        if three_phase:
            self.phases = [(warm_up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                            "max_momentum"),
                           (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self.phases = [(warm_up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        starts = [0.0] + [phase[0] for phase in self.phases[:-1]]
        for i, (start, phase) in enumerate(zip(starts, self.phases)):
            if phase[0] == start:
                raise OpError(f"{name}: pct_start={pct_start} of total_steps={total_steps} leaves phase {i + 1} "
                              f"of the cycle no steps; change pct_start or total_steps")
        max_lrs = _per_group(name, "max_lr", max_lr, optimizer)
        for value in max_lrs:
            _check_finite_at_least_zero(name, "max_lr", value)
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise OpError(f"{name}: cycle_momentum needs an optimizer with a momentum or betas; "
                              f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)")
            max_momenta = _per_group(name, "max_momentum", max_momentum, optimizer)
            base_momenta = _per_group(name, "base_momentum", base_momentum, optimizer)
            for i, group in enumerate(optimizer.param_groups):
                for value in (max_momenta[i], base_momenta[i]):
                    check_group(name, self._with_momentum(group, value), f"parameter group {i}")
        if last_epoch == -1:
            for i, group in enumerate(optimizer.param_groups):
                group.update(initial_lr=max_lrs[i] / div_factor, max_lr=max_lrs[i])
                group["min_lr"] = group["initial_lr"] / final_div_factor
                if cycle_momentum:
                    group.update(self._with_momentum(group, max_momenta[i]), max_momentum=max_momenta[i],
                                 base_momentum=base_momenta[i])
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _with_momentum(group: dict[str, Any], momentum: float) -> dict[str, Any]:
        """The group's momentum setting changed to `momentum`: beta1 for Adam-like optimizers."""
        return {"betas": (momentum, *group["betas"][1:])} if "betas" in group else {"momentum": momentum}

    def _anneal(self, start: float, end: float, fraction: float) -> float:
        if self.anneal_strategy == "cos":
            return _half_cosine(start, end, fraction)
        return (end - start) * fraction + start

    def _interpolate(self, epoch: int, group: dict[str, Any], momentum: bool) -> float:
        """The lr (or momentum) of `group` at step `epoch`, between the ends of its phase."""
        ends = [phase[0] for phase in self.phases]
        i = min(bisect.bisect_left(ends, epoch), len(ends) - 1)  # the last phase takes every later step
        start, end = (ends[i - 1] if i else 0.0), ends[i]
        first, last = self.phases[i][3:] if momentum else self.phases[i][1:3]
        return self._anneal(group[first], group[last], (epoch - start) / (end - start))

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return self._interpolate(epoch, self.optimizer.param_groups[group], momentum=False)

    def _step_to(self, epoch: Any) -> None:
        if epoch > self.total_steps:
            raise OpError(f"OneCycleLR: tried to step {epoch} times; the cycle has total_steps={self.total_steps}")
        super()._step_to(epoch)
        if self.cycle_momentum:
            for group in self.optimizer.param_groups:
                group.update(self._with_momentum(group, self._interpolate(epoch, group, momentum=True)))


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by `factor` when the metric given to `step(metric)` has not improved for
    `patience` epochs (then wait `cooldown` epochs before counting again), down to `min_lr`.

    "Improved" means below best * (1 - threshold) in mode "min" with threshold_mode "rel", below
    best - threshold with "abs" (above best * (1 + threshold), best + threshold in mode "max").
    A change of the lr smaller than `eps` is not made."""

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | Sequence[float] = 0.0, eps: float = 1e-8):
        name = "ReduceLROnPlateau"
        _check_optimizer(name, optimizer)
        if mode not in ("min", "max"):
            raise OpError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise OpError(f"{name}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        _check_finite_at_least_zero(name, "factor", factor)
        if factor >= 1:
            raise OpError(f"{name}: factor must be < 1 (it multiplies the lr to reduce it), got {factor!r}")
        check_count(patience, "patience", name)
        check_count(cooldown, "cooldown", name)
        _check_finite_at_least_zero(name, "threshold", threshold)
        _check_finite_at_least_zero(name, "eps", eps)
        self.min_lrs = _per_group(name, "min_lr", min_lr, optimizer)
        for value in self.min_lrs:
            _check_finite_at_least_zero(name, "min_lr", value)
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.eps = threshold, threshold_mode, cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter, self.last_epoch = 0, 0, 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, value: float, best: float) -> bool:
        if self.threshold_mode == "rel":
            return value < best * (1 - self.threshold) if self.mode == "min" else value > best * (1 + self.threshold)
        return value < best - self.threshold if self.mode == "min" else value > best + self.threshold

    def step(self, metrics: Any) -> None:  # type: ignore[override]  # takes the metric, as in PyTorch
        """Record this epoch's metric (a number or a one-element tensor); reduce the lr if it is
        the `patience + 1`-th epoch in a row without improvement."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):  # OpError too: a tensor of several elements
            raise OpError(f"ReduceLROnPlateau.step: metrics must be a number or a one-element tensor, "
                          f"got {type(metrics).__name__} {metrics!r}") from None
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise OpError(f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups, but "
                              f"{len(self.min_lrs)} min_lrs were given (a group was added since); set min_lrs "
                              f"to one per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            new_lr = max(group["lr"] * self.factor, min_lr)
            if group["lr"] - new_lr > self.eps:
                group["lr"] = new_lr


class SequentialLR(LRScheduler):
    """Schedulers one after another: `schedulers[i]` sets the lr from epoch `milestones[i - 1]` on
    (from epoch 0 for the first), and starts afresh there, at its own epoch 0."""

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1):
        name = "SequentialLR"
        schedulers, milestones = list(schedulers), _check_milestones(name, milestones)
        if not schedulers:
            raise OpError(f"{name}: expected at least one scheduler, got none")
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"{name}: scheduler {i} is a {type(scheduler).__name__}, expected an LRScheduler")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise OpError(f"{name}: scheduler {i} is a ReduceLROnPlateau, whose step() needs a metric; "
                              f"it cannot be sequenced")
            if scheduler.optimizer is not optimizer:
                raise OpError(f"{name}: scheduler {i} ({type(scheduler).__name__}) schedules another optimizer; "
                              f"all must schedule the one given")
        if len(milestones) != len(schedulers) - 1:
            raise OpError(f"{name}: expected {len(schedulers) - 1} milestones for {len(schedulers)} schedulers "
                          f"(one between each two), got {len(milestones)}")
        if milestones != sorted(milestones):
            raise OpError(f"{name}: milestones must be increasing integers >= 0 (epochs), got {milestones!r}")
        self._schedulers, self._milestones = schedulers, milestones
        super().__init__(optimizer, last_epoch)

    def _step_to(self, epoch: Any) -> None:
        index = bisect.bisect_right(self._milestones, epoch)
        scheduler = self._schedulers[index]
        if epoch == (self._milestones[index - 1] if index else 0):
            scheduler._step_to(0)  # its first epoch: it starts afresh
        else:
            scheduler.step()
        self.last_epoch, self._last_lr = epoch, scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """This scheduler's state, with each of its schedulers' states in "_schedulers"."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        own = dict(state_dict)
        states = own.pop("_schedulers")
        if len(states) != len(self._schedulers):
            raise OpError(f"SequentialLR.load_state_dict: the state dict has {len(states)} schedulers, "
                          f"this SequentialLR has {len(self._schedulers)}")
        self.__dict__.update(own)
        for scheduler, state in zip(self._schedulers, states):
            scheduler.load_state_dict(state)
