"""Layers, activations, losses and initialisers with PyTorch's names."""

from . import functional, init
from .activations import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from .conv import Conv2d, MaxPool2d
from .layers import Dropout, Flatten, Identity, Linear
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter, Sequential
from .norm import BatchNorm1d, BatchNorm2d

__all__ = [
    "functional", "init", "Module", "Parameter", "Sequential", "Linear", "Conv2d", "MaxPool2d", "Flatten", "Dropout",
    "Identity", "BatchNorm1d", "BatchNorm2d", "ReLU", "LeakyReLU", "GELU", "Tanh", "Sigmoid", "SiLU", "Softmax",
    "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss",
]
