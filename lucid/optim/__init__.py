"""Optimizers and learning-rate schedules, with PyTorch's names and update formulas."""
from . import lr_scheduler
from .algorithms import SGD, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop
from .optimizer import Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "lr_scheduler"]
