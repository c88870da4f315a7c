"""Neural-network building blocks: Modules, layers, activation and loss modules, initialisers.

`lucid.nn.functional` holds the ops (registered as "nn.functional.*"); the classes here wrap
them with parameters and settings, as `torch.nn` does.
"""
from . import functional
from . import init
from . import utils
from .activation import (CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax,
                         Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus, Softsign, Tanh)
from .layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Dropout, Embedding,
                     Flatten, Identity, LayerNorm, Linear, MaxPool2d, Unflatten)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList, Sequential
from .more_modules import (GLU, CosineEmbeddingLoss, GaussianNLLLoss, GroupNorm, Hardshrink, InstanceNorm2d,
                           MarginRankingLoss,
                           PixelShuffle, PixelUnshuffle, PoissonNLLLoss, PReLU, Softmin, Softshrink, Tanhshrink,
                           TripletMarginLoss)

__all__ = [
    "functional", "init", "utils", "Module", "ModuleDict", "ModuleList", "Parameter", "ParameterDict", "ParameterList",
    "Sequential",
    "CELU", "ELU", "GELU", "SELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid", "LogSoftmax",
    "Mish", "ReLU", "ReLU6", "Sigmoid", "SiLU", "Softmax", "Softplus", "Softsign", "Tanh",
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d", "Dropout", "Embedding",
    "Flatten", "Identity", "LayerNorm", "Linear", "MaxPool2d", "Unflatten",
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss", "NLLLoss",
    "SmoothL1Loss",
    "GLU", "Hardshrink", "Softshrink", "Tanhshrink", "Softmin", "PixelShuffle", "PixelUnshuffle", "PReLU",
    "GroupNorm", "InstanceNorm2d", "MarginRankingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "PoissonNLLLoss",
    "GaussianNLLLoss",
]
