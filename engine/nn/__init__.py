"""Layers, activations, losses and initialisers with PyTorch's names."""

from . import functional, init
from .activations import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from .conv import Conv2d, MaxPool2d
from .layers import Dropout, Flatten, Identity, Linear
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter, Sequential
from .norm import BatchNorm1d, BatchNorm2d
