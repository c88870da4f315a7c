"""The update rules: SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, NAdam, RAdam, each exactly as
PyTorch computes it.

Each rule is written on NumPy arrays, in PyTorch's order of operations (its `lerp`, `addcmul`
and `addcdiv` spelled out), so that float64 training matches PyTorch's to rounding error.
`param` and the state arrays are updated in place.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import OpError
from .optimizer import Optimizer, Params


def weight_decayed(param: np.ndarray, grad: np.ndarray, group: dict[str, Any], decoupled: bool = False) -> np.ndarray:
    """The gradient a rule steps with, weight decay applied: L2 (PyTorch's default) adds
    `weight_decay * param` to it; decoupled (AdamW's) shrinks `param` in place by
    `1 - lr * weight_decay` instead and leaves the gradient alone."""
    weight_decay = group["weight_decay"]
    if weight_decay and decoupled:
        param *= 1 - group["lr"] * weight_decay
    elif weight_decay:
        return grad + weight_decay * param
    return grad


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (heavy ball or Nesterov) and L2 weight decay.

        g = grad + weight_decay * param
        buf = g                                  on the first step
        buf = momentum * buf + (1 - dampening) * g   afterwards
        g = g + momentum * buf  (nesterov)  or  buf
        param = param - lr * g
    """

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise OpError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        grad = weight_decayed(param, grad, group)
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * grad


class Adam(Optimizer):
    """Adam: steps scaled by running averages of the gradient (m) and of its square (v).

        m = m + (1 - beta1) * (g - m);   v = beta2 * v + (1 - beta2) * g * g
        param = param - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    `weight_decay` adds `weight_decay * param` to the gradient (L2); AdamW decays the weights instead.
    """

    decoupled = False

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        grad = weight_decayed(param, grad, group, self.decoupled)
        m += (1 - beta1) * (grad - m)
        v *= beta2
        v += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        step_size = lr / (1 - beta1 ** step)
        denom = np.sqrt(v) / (1 - beta2 ** step) ** 0.5 + eps
        param -= step_size * m / denom  # addcdiv: (value * m) / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: `param *= 1 - lr * weight_decay` before the Adam step."""

    decoupled = True

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class RMSprop(Optimizer):
    """RMSprop: steps divided by a running root-mean-square of the gradient.

        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - mean_g**2) (centered)  or  sqrt(v);   avg = avg + eps
        buf = momentum * buf + g / avg;  param = param - lr * buf   (momentum > 0)
        param = param - lr * g / avg                                  (otherwise)
    """

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state.update(step=0, square_avg=np.zeros_like(param))
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        state["step"] += 1
        grad = weight_decayed(param, grad, group)
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (grad - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * grad / avg



class Adagrad(Optimizer):
    """Adagrad: each weight's steps shrink with the sum of all its squared gradients so far.

        g = grad + weight_decay * param
        sum = sum + g * g                       (sum starts at initial_accumulator_value)
        param = param - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
    """

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            state.update(step=0, sum=np.full_like(param, group["initial_accumulator_value"]))
        state["step"] += 1
        grad = weight_decayed(param, grad, group)
        decayed_lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        square_sum = state["sum"]
        square_sum += grad * grad
        param -= decayed_lr * grad / (np.sqrt(square_sum) + group["eps"])


class Adamax(Optimizer):
    """Adamax: Adam with the root-mean-square of the gradient replaced by a decaying maximum of |g|.

        m = m + (1 - beta1) * (g - m);   u = max(beta2 * u, |g| + eps)
        param = param - lr / (1 - beta1**t) * m / u
    """

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        (beta1, beta2), eps = group["betas"], group["eps"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param), exp_inf=np.zeros_like(param))
        state["step"] += 1
        grad = weight_decayed(param, grad, group)
        m, u = state["exp_avg"], state["exp_inf"]
        m += (1 - beta1) * (grad - m)
        u *= beta2
        np.maximum(u, np.abs(grad) + eps, out=u)
        param -= group["lr"] / (1 - beta1 ** state["step"]) * m / u


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum, the momentum coefficient warming up over the steps.

        mu_t = beta1 * (1 - 0.96**(t * momentum_decay) / 2);   prod_t = mu_1 * ... * mu_t
        m, v as in Adam;   denom = sqrt(v / (1 - beta2**t)) + eps
        param = param - lr * (1 - mu_t) / (1 - prod_t) * g / denom
                      - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / denom

    `decoupled_weight_decay` decays the weights as AdamW does instead of adding to the gradient.
    """

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        if not state:
            state.update(step=0, mu_product=1.0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
        state["step"] += 1
        step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        grad = weight_decayed(param, grad, group, group["decoupled_weight_decay"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
        mu_product = state["mu_product"] = state["mu_product"] * mu
        m += (1 - beta1) * (grad - m)
        v *= beta2
        v += (1 - beta2) * grad * grad
        denom = np.sqrt(v / (1 - beta2 ** step)) + group["eps"]
        param -= lr * (1.0 - mu) / (1.0 - mu_product) * grad / denom
        param -= lr * mu_next / (1.0 - mu_product * mu_next) * m / denom


class RAdam(Optimizer):
    """RAdam: Adam whose adaptive step is rectified by the variance of v's estimate, and left out
    (plain momentum SGD) while that variance is intractable, in the first steps.

        rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        m_hat = m / (1 - beta1**t)
        rho_t > 5:  param = param - m_hat * lr * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r_t
                    with r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        otherwise:  param = param - m_hat * lr

    `decoupled_weight_decay` decays the weights as AdamW does instead of adding to the gradient.
    """

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
        state["step"] += 1
        step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        grad = weight_decayed(param, grad, group, group["decoupled_weight_decay"])
        m += (1 - beta1) * (grad - m)
        v *= beta2
        v += (1 - beta2) * grad * grad
        bias_correction2 = 1 - beta2 ** step
        m_hat = m / (1 - beta1 ** step)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        if rho_t > 5.0:
            rectification = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            param -= m_hat * lr * (bias_correction2 ** 0.5 / (np.sqrt(v) + group["eps"])) * rectification
        else:
            param -= m_hat * lr
