"""Independent networks, one per output, evaluated as one batched network.

Every parameter has the head as its first dimension, so ``K`` residual MLPs cost one ``einsum`` per layer instead of
``K`` Python calls, and one head's parameters are the slice ``[k]`` of each tensor (which lets early stopping keep
each head's best epoch). Separate heads, not a shared trunk: KPIs of a plant are different functions of the design
(throughput follows the load, scrap the set-points) and a shared trunk learns the dominant one.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class BatchedLinear(nn.Module):
    """``heads`` linear layers ``inputs → outputs``, initialised as :class:`torch.nn.Linear` is."""

    def __init__(self, heads: int, inputs: int, outputs: int):
        super().__init__()
        bound = 1.0 / math.sqrt(inputs)
        self.weight = nn.Parameter(torch.empty(heads, inputs, outputs).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(heads, 1, outputs).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(heads, n, inputs) → (heads, n, outputs)."""
        return torch.baddbmm(self.bias, x, self.weight)


class BatchedBlock(nn.Module):
    """A pre-norm residual block per head: x + W₂ SiLU(W₁ LayerNorm(x))."""

    def __init__(self, heads: int, width: int):
        super().__init__()
        self.norm_weight = nn.Parameter(torch.ones(heads, 1, width))
        self.norm_bias = nn.Parameter(torch.zeros(heads, 1, width))
        self.first, self.second = BatchedLinear(heads, width, width), BatchedLinear(heads, width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = F.layer_norm(x, x.shape[-1:]) * self.norm_weight + self.norm_bias
        return x + self.second(F.silu(self.first(normed)))


class BatchedMLP(nn.Module):
    """``heads`` residual MLPs ``inputs → width → … → outputs`` on the same input."""

    def __init__(self, heads: int, inputs: int, outputs: int, width: int, blocks: int):
        super().__init__()
        self.heads = heads
        self.inner = BatchedLinear(heads, inputs, width)
        self.blocks = nn.ModuleList(BatchedBlock(heads, width) for _ in range(blocks))
        self.outer = BatchedLinear(heads, width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, inputs) → (heads, n, outputs)."""
        h = self.inner(x.unsqueeze(0).expand(self.heads, -1, -1))
        for block in self.blocks:
            h = block(h)
        return self.outer(F.silu(h))


def keep_heads(best: dict[str, torch.Tensor], module: nn.Module, improved: torch.Tensor) -> None:
    """Copy the parameters of the ``improved`` heads (a boolean mask over the first dimension) into ``best``."""
    for name, value in module.state_dict().items():
        best[name][improved] = value[improved].detach()
