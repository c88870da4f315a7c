"""`Optimizer`: the bookkeeping every optimizer shares, so that each algorithm is only its update rule.

Parameters live in `param_groups` (a list of dicts: the tensors and their hyperparameters), and
per-parameter memory (momentum, running averages) in `state`. `step()` hands each parameter that
has a gradient to the subclass's `update`, which works on NumPy arrays: an update is not part of
any graph, so it never grows one.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import OpError
from ..tensor import Tensor, enable_grad, increment_version

Params = Iterable[Tensor] | Iterable[Mapping[str, Any]]


class Optimizer:
    """Base class: subclasses pass their hyperparameter defaults and define `update`."""

    def __init__(self, params: Params, defaults: Mapping[str, Any]):
        check_group(type(self).__name__, defaults, "the defaults")
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, "
                            f"got a single Tensor (wrap it in a list)")
        groups: list[Any] = list(params)
        if not groups:
            raise OpError(f"{type(self).__name__} got an empty parameter list (did the model register "
                          f"its weights as Parameters?)")
        for group in groups if isinstance(groups[0], Mapping) else [{"params": groups}]:
            self.add_param_group(group)

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (the defaults fill the rest)."""
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        name = type(self).__name__
        for i, p in enumerate(group["params"]):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a Tensor")
            if not p.is_leaf:
                raise OpError(f"{name}: can't optimize a non-leaf Tensor (parameter {i}, shape {p.shape}, "
                              f"computed by {p.grad_fn}); optimize the leaf it was computed from")
            if p.dtype.kind != "f":
                raise OpError(f"{name}: parameter {i} has dtype {p.dtype}; "
                              f"only floating-point tensors can be optimized")
        if not group["params"]:
            raise OpError(f"{name}: a parameter group with no parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in group["params"]}) != len(group["params"]) or seen & {id(p) for p in group["params"]}:
            raise OpError(f"{name}: a parameter appears more than once; each must be in exactly one group, once")
        check_group(name, group, f"parameter group {len(self.param_groups)}")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients, since backward() adds to them. `set_to_none=False` zeroes them in place."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. `closure` re-evaluates the model and returns
        the loss (the PyTorch protocol; needed by optimizers that evaluate several times). A group
        with `maximize` set gets its gradients negated, so its update climbs the objective."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    grad = -p.grad.data if group.get("maximize") else p.grad.data  # climb instead of descend
                    self.update(p.data, grad, self.state.setdefault(p, {}), group)
                    increment_version(p)  # a graph that saved p before this step can no longer use it
        return loss

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Change `param` in place from `grad`, this parameter's `state` and its group's hyperparameters."""
        raise NotImplementedError

    # state dict -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: parameters are numbered across groups; "state" maps those numbers to
        each parameter's memory, "param_groups" holds the hyperparameters and the numbers."""
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        state = {index[id(p)]: {k: Tensor(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
                 for p, s in self.state.items()}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by `state_dict()` (arrays or Tensors).
        Everything is checked before anything changes: a bad state dict leaves the optimizer as it was."""
        where = f"{type(self).__name__}.load_state_dict"
        saved, saved_state = _parts(state_dict, where)
        if len(saved) != len(self.param_groups):
            raise OpError(f"{where}: the state dict has {len(saved)} parameter groups, "
                          f"this optimizer has {len(self.param_groups)}")
        for i, (old, new) in enumerate(zip(saved, self.param_groups)):
            if len(old["params"]) != len(new["params"]):
                raise OpError(f"{where}: group {i} has {len(old['params'])} parameters in the "
                              f"state dict and {len(new['params'])} in this optimizer")
            check_group(where, old, f"parameter group {i} of the state dict")
        params = {i: p for old, new in zip(saved, self.param_groups) for i, p in zip(old["params"], new["params"])}
        state = {}
        for key, entries in saved_state.items():
            p = params.get(_parameter_number(key, where))
            if p is None:
                raise OpError(f"{where}: 'state' has an entry for parameter {key!r}, which no parameter group lists")
            if not isinstance(entries, Mapping):
                raise OpError(f"{where}: the state of parameter {key!r} must be a dict, got {type(entries).__name__}")
            state[p] = {k: _array_like(v, p, k, where) for k, v in entries.items()}
        self.state = state
        for old, new in zip(saved, self.param_groups):
            new.update({k: v for k, v in old.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines + [")"])


def zero_grads(params: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Set each `.grad` to None, or zero it in place (out of any graph), as PyTorch's zero_grad does."""
    for p in params:
        if set_to_none or p.grad is None:
            p.grad = None
        else:
            if p.grad.grad_fn is not None:  # a gradient computed with create_graph: keep its memory, not its graph
                p.grad = p.grad.detach()
            p.grad.requires_grad_(False)
            p.grad.zero_()


def _array_like(value: Any, param: Tensor, key: str, name: str) -> Any:
    """A saved state entry, copied: arrays shaped like the parameter take its dtype; numbers stay numbers."""
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, np.ndarray):
        return value
    if value.ndim == 0:
        return value.item()
    if value.shape != param.shape:
        raise OpError(f"{name}: state {key!r} has shape {value.shape}, "
                      f"the parameter has shape {param.shape}")
    return value.astype(param.dtype, copy=True)


def _parts(state_dict: Any, where: str) -> tuple[list, Mapping]:
    """The "param_groups" and "state" of an optimizer's state dict, checked for their form."""
    if not isinstance(state_dict, Mapping):
        raise OpError(f"{where}: expected a dict with 'state' and 'param_groups', got {type(state_dict).__name__}")
    for key in ("state", "param_groups"):
        if key not in state_dict:
            raise OpError(f"{where}: the state dict has no {key!r} key (its keys: {list(state_dict)})")
    groups, state = state_dict["param_groups"], state_dict["state"]
    if not isinstance(groups, (list, tuple)) or not all(isinstance(g, Mapping) for g in groups):
        raise OpError(f"{where}: 'param_groups' must be a list of dicts, got {type(groups).__name__}")
    for i, group in enumerate(groups):
        if not isinstance(group.get("params"), (list, tuple)):
            raise OpError(f"{where}: parameter group {i} of the state dict has no 'params' list of numbers")
    if not isinstance(state, Mapping):
        raise OpError(f"{where}: 'state' must be a dict from parameter numbers to dicts, got {type(state).__name__}")
    return list(groups), state


def _parameter_number(key: Any, where: str) -> int:
    """A key of "state": the parameter's number (an int, or its string after a round trip through a file)."""
    try:
        return int(key)
    except (TypeError, ValueError):
        raise OpError(f"{where}: 'state' has the key {key!r}, which is not a parameter number") from None


def _finite_at_least_zero(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= float(value) < math.inf


def _flag(value: Any) -> bool:
    """A switch: True or False (a string such as "no" would be truthy and silently switch it on)."""
    return isinstance(value, (bool, np.bool_))


#: The hyperparameters that have a valid range, and what it is. PyTorch checks these in each
#: optimizer's constructor only; Lucid checks every group, loaded state dicts and scheduled lrs,
#: and also refuses NaN and infinity.
HYPERPARAMETERS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "lr": (_finite_at_least_zero, "a finite number >= 0"),
    "momentum": (_finite_at_least_zero, "a finite number >= 0"),
    "weight_decay": (_finite_at_least_zero, "a finite number >= 0"),
    "eps": (_finite_at_least_zero, "a finite number >= 0"),
    "alpha": (_finite_at_least_zero, "a finite number >= 0"),
    "lr_decay": (_finite_at_least_zero, "a finite number >= 0"),
    "initial_accumulator_value": (_finite_at_least_zero, "a finite number >= 0"),
    "momentum_decay": (_finite_at_least_zero, "a finite number >= 0"),
    "betas": (lambda v: isinstance(v, (tuple, list)) and len(v) == 2
              and all(_finite_at_least_zero(b) and b < 1 for b in v), "a pair of numbers in [0, 1)"),
    "maximize": (_flag, "True or False"),
    "nesterov": (_flag, "True or False"),
    "amsgrad": (_flag, "True or False"),
    "centered": (_flag, "True or False"),
    "decoupled_weight_decay": (_flag, "True or False"),
}


def check_group(name: str, group: Mapping[str, Any], where: str) -> None:
    """Reject a hyperparameter out of its range (a negative lr, a beta of 1...), naming it and where it is."""
    for key, value in group.items():
        rule = HYPERPARAMETERS.get(key)
        if rule is not None and not rule[0](value):
            raise OpError(f"{name}: invalid {key} {value!r} in {where}; it must be {rule[1]}")
