"""Mixed-type likelihood over a TableEncoder layout: Gaussian with learned variance on "value" dims, categorical on
"choice" spans, with structurally missing dims masked out of the loss.

A decoder emits one vector per row laid out as ``[location (dim), log-variance (one per value dim)]``: on value dims
the location is the Gaussian mean, on choice spans it holds the logits. Negative log-likelihoods are in nats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from surrogates.columns import CHOICE, VALUE, Span

_LOG_2PI = math.log(2 * math.pi)
LOGVAR_RANGE = (-12.0, 4.0)  # a value dim's variance is kept in [e^-12, e^4] (alpha is O(0.1))


class MixedLikelihood:
    """Per-row negative log-likelihood of encoded rows under a decoder's output (see the module docstring)."""

    def __init__(self, spans: Sequence[Span], dim: int, device: torch.device):
        self.dim = dim
        self.value_dims = torch.tensor([s.start for s in spans if s.kind == VALUE], dtype=torch.long, device=device)
        self.choices = [s for s in spans if s.kind == CHOICE]
        self.out_dim = dim + int(self.value_dims.numel())

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Location (n, dim) and clamped log-variance (n, value dims) of a decoder output."""
        return out[:, : self.dim], out[:, self.dim :].clamp(*LOGVAR_RANGE)

    def nll(self, out: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(n,) negative log-likelihood of rows `x` (encoded) where `mask` is 1 (dims of existing columns)."""
        location, logvar = self.split(out)
        v = self.value_dims
        gauss = 0.5 * (_LOG_2PI + logvar + (x[:, v] - location[:, v]) ** 2 * torch.exp(-logvar))
        total = (gauss * mask[:, v]).sum(dim=1)
        for span in self.choices:
            logits, target = location[:, span.start : span.stop], x[:, span.start : span.stop]
            ce = -(torch.log_softmax(logits, dim=1) * target).sum(dim=1)
            total = total + ce * mask[:, span.start]
        return total

    def expected(self, out: torch.Tensor) -> torch.Tensor:
        """The decoded rows in the encoded layout: means on value dims, category probabilities on choice spans."""
        location = self.split(out)[0].clone()
        for span in self.choices:
            location[:, span.start : span.stop] = torch.softmax(location[:, span.start : span.stop], dim=1)
        return location
