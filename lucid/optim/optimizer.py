"""`Optimizer`: the bookkeeping every optimizer shares, so that each algorithm is only its update rule.

Parameters live in `param_groups` (a list of dicts: the tensors and their hyperparameters), and
per-parameter memory (momentum, running averages) in `state`. `step()` hands each parameter that
has a gradient to the subclass's `update`, which works on NumPy arrays: an update is not part of
any graph, so it never grows one.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ..errors import OpError
from ..tensor import Tensor, enable_grad

Params = Iterable[Tensor] | Iterable[Mapping[str, Any]]


class Optimizer:
    """Base class: subclasses pass their hyperparameter defaults and define `update`."""

    def __init__(self, params: Params, defaults: Mapping[str, Any]):
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, "
                            f"got a single Tensor (wrap it in a list)")
        groups = list(params)
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
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients, since backward() adds to them. `set_to_none=False` keeps zero arrays."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = Tensor(np.zeros_like(p.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. `closure` re-evaluates the model and returns
        the loss (the PyTorch protocol; needed by optimizers that evaluate several times)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p.data, p.grad.data, self.state.setdefault(p, {}), group)
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
        """Restore hyperparameters and per-parameter state saved by `state_dict()` (arrays or Tensors)."""
        name = type(self).__name__
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise OpError(f"{name}.load_state_dict: the state dict has {len(saved)} parameter groups, "
                          f"this optimizer has {len(self.param_groups)}")
        for i, (old, new) in enumerate(zip(saved, self.param_groups)):
            if len(old["params"]) != len(new["params"]):
                raise OpError(f"{name}.load_state_dict: group {i} has {len(old['params'])} parameters in the "
                              f"state dict and {len(new['params'])} in this optimizer")
        params = {i: p for old, new in zip(saved, self.param_groups) for i, p in zip(old["params"], new["params"])}
        self.state = {}
        for i, entries in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {k: _array_like(v, p, k, name) for k, v in entries.items()}
        for old, new in zip(saved, self.param_groups):
            new.update({k: v for k, v in old.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines + [")"])


def _array_like(value: Any, param: Tensor, key: str, name: str) -> Any:
    """A saved state entry, copied: arrays shaped like the parameter take its dtype; numbers stay numbers."""
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, np.ndarray):
        return value
    if value.ndim == 0:
        return value.item()
    if value.shape != param.shape:
        raise OpError(f"{name}.load_state_dict: state {key!r} has shape {value.shape}, "
                      f"the parameter has shape {param.shape}")
    return value.astype(param.dtype, copy=True)


def check_hyperparameters(name: str, **values: float) -> None:
    """Reject a negative learning rate, momentum, epsilon or weight decay, naming it."""
    for key, value in values.items():
        if not value >= 0:
            raise OpError(f"{name}: invalid {key} {value!r}; it must be >= 0")
