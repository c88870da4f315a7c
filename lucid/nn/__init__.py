"""Neural-network building blocks: Modules, layers, activation and loss modules, initialisers.

`lucid.nn.functional` holds the ops (registered as "nn.functional.*"); the classes here wrap
them with parameters and settings, as `torch.nn` does.
"""
from . import functional
from . import init
from . import utils
from .activation import (CELU, ELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
                         LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softmin, Softplus,
                         Softshrink, Softsign, Tanh, Tanhshrink)
from .layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Dropout, Embedding,
                     Flatten, GroupNorm, Identity, InstanceNorm2d, LayerNorm, Linear, MaxPool2d, PixelShuffle,
                     PixelUnshuffle, Unflatten)
from .layers import (AvgPool1d, AvgPool3d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, MaxPool1d,
                     MaxPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d, AdaptiveAvgPool1d, AdaptiveMaxPool1d,
                     AdaptiveMaxPool2d)
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, GaussianNLLLoss, HuberLoss,
                   KLDivLoss, L1Loss, MarginRankingLoss, MSELoss, NLLLoss, PoissonNLLLoss, SmoothL1Loss,
                   TripletMarginLoss)
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList, Sequential
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .attention import (MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer,
                        TransformerEncoder, TransformerEncoderLayer)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

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
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
    "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "MaxPool1d", "MaxPool3d", "AvgPool1d",
    "AvgPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "AdaptiveAvgPool1d",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
    "TransformerDecoder", "Transformer", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell",
    "GRUCell",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
]
