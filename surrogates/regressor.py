"""A deep ensemble that stands in for the simulator: design point → KPIs, with a predictive mean and variance.

Inputs are encoded by :class:`DesignEncoder` from the study's decision variables (numbers scaled to the design's
bounds, categories one-hot), outputs are standardised per KPI. Each of ``members`` MLPs (residual blocks, its own
seed and its own validation split for early stopping) predicts a Gaussian per KPI (heteroscedastic: mean and
log-variance) and is trained on the Gaussian negative log-likelihood of per-replication rows, so replication noise
is learned, not averaged away. The ensemble's prediction is the mixture's mean and variance (Lakshminarayanan et
al., 2017); a fixed random prior network added to each member's mean (randomized prior functions) keeps the
members apart away from the data, so the spread of their means grows there. ``calibrate`` rescales the variance per KPI
so that the 90 % interval holds 90 % of validation rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from surrogates.batched import BatchedMLP, keep_heads
from surrogates.persist import load_model, save_model
from surrogates.training import check_seed, resolve_device, seeded, torch_generator

KIND = "DeepEnsemble"
_PARAMS = (
    "members",
    "width",
    "blocks",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "patience",
    "validation_share",
    "prior_scale",
    "nll_beta",
    "seed",
)


@dataclass(frozen=True)
class Variable:
    """One decision variable: ``int`` or ``float`` in [low, high], or a ``choice`` among ``choices``."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()


class DesignEncoder:
    """Design points (mappings name → value) as model inputs: numbers scaled to [−1, 1] over their bounds,
    choices one-hot. ``outside`` tells which points leave the training domain."""

    def __init__(self, variables: Sequence[Variable]):
        names = [v.name for v in variables]
        if not variables or len(set(names)) != len(names):
            raise ValueError(f"variables must be a non-empty list of distinct names, got {names}")
        for v in variables:
            if v.type == "choice" and not v.choices:
                raise ValueError(f"choice variable {v.name!r} needs choices")
            if v.type in ("int", "float") and (v.low is None or v.high is None or v.high < v.low):
                raise ValueError(f"{v.type} variable {v.name!r} needs low ≤ high")
            if v.type not in ("int", "float", "choice"):
                raise ValueError(f"variable {v.name!r}: unknown type {v.type!r}")
        self.variables = tuple(variables)

    @property
    def dim(self) -> int:
        return sum(len(v.choices) if v.type == "choice" else 1 for v in self.variables)

    def transform(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """(n, dim) float32 inputs; a missing variable or an unknown choice is a ValueError naming it."""
        out = np.zeros((len(points), self.dim), dtype=np.float32)
        for i, point in enumerate(points):
            col = 0
            for v in self.variables:
                if v.name not in point:
                    raise ValueError(f"point {i} has no value for {v.name!r}")
                value = point[v.name]
                if v.type == "choice":
                    if value not in v.choices:
                        raise ValueError(f"{v.name}={value!r} is not one of {list(v.choices)}")
                    out[i, col + v.choices.index(value)] = 1.0
                    col += len(v.choices)
                else:
                    span = (v.high - v.low) or 1.0
                    out[i, col] = 2.0 * (float(value) - v.low) / span - 1.0
                    col += 1
        return out

    def outside(self, points: Sequence[Mapping[str, Any]]) -> list[list[str]]:
        """Per point, the variables whose value lies outside the training bounds (empty: inside)."""
        return [
            [v.name for v in self.variables if v.type != "choice" and not v.low <= float(p[v.name]) <= v.high]
            for p in points
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"variables": [{**v.__dict__, "choices": list(v.choices)} for v in self.variables]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DesignEncoder:
        return cls([Variable(**{**d, "choices": tuple(d.get("choices") or ())}) for d in data["variables"]])


class _Member(nn.Module):
    """One member: a residual MLP per output (batched, see :mod:`surrogates.batched`) giving its mean and
    log-variance, plus a fixed, untrained random prior network on the means (Osband et al., 2018, randomized prior
    functions), so that members disagree where no data pulls them together."""

    def __init__(self, inputs: int, outputs: int, width: int, blocks: int, prior_scale: float):
        super().__init__()
        self.prior_scale = prior_scale
        self.net = BatchedMLP(outputs, inputs, 2, width, blocks)
        self.prior = BatchedMLP(outputs, inputs, 1, width, 0)
        self.prior.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, inputs) → (n, 2 · outputs): the means, then the log-variances."""
        out = self.net(x)  # (outputs, n, 2)
        mean = out[..., 0] + self.prior_scale * self.prior(x)[..., 0]
        return torch.cat([mean.T, out[..., 1].T], dim=1)


@dataclass(frozen=True)
class Prediction:
    """Predictive mean and variance per point and output, in the outputs' own units; ``epistemic`` is the part of
    the variance that comes from the members' disagreement (model uncertainty, not replication noise), where known."""

    mean: np.ndarray
    variance: np.ndarray
    epistemic: np.ndarray | None = None

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """The central ``level`` interval of the Gaussian with the predictive mean and variance."""
        from scipy.stats import norm

        half = norm.ppf(0.5 + level / 2.0) * np.sqrt(self.variance)
        return self.mean - half, self.mean + half


class DeepEnsemble:
    """Deep ensemble of heteroscedastic MLPs (see the module docstring)."""

    def __init__(
        self,
        *,
        members: int = 5,
        width: int = 64,
        blocks: int = 2,
        epochs: int = 400,
        batch_size: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        patience: int = 40,
        validation_share: float = 0.2,
        prior_scale: float = 2.0,
        nll_beta: float = 0.5,
        seed: int = 0,
        device: str = "auto",
    ):
        self.members, self.width, self.blocks, self.epochs = members, width, blocks, epochs
        self.batch_size, self.lr, self.weight_decay, self.patience = batch_size, lr, weight_decay, patience
        self.validation_share, self.seed, self.device = validation_share, seed, device
        self.prior_scale, self.nll_beta = prior_scale, nll_beta
        self._nets: list[_Member] = []
        self.scale = np.ones(0)  # variance scaling per output (calibrate)

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> DeepEnsemble:
        """Fit on inputs ``x`` (n, d) and outputs ``y`` (n, k); rows sharing a ``groups`` id (replications of one
        design point) go to the same side of each member's validation split."""
        check_seed(self.seed)
        if self.members < 1 or self.epochs < 1 or not 0 < self.validation_share < 1:
            raise ValueError("DeepEnsemble needs members ≥ 1, epochs ≥ 1 and 0 < validation_share < 1")
        x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float64)
        if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) < 4:
            raise ValueError(f"need x (n, d) and y (n, k) with n ≥ 4 rows, got {x.shape} and {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError("y holds NaN or infinite values; drop or impute those rows first")
        self._device = resolve_device(self.device)
        self._mu, self._sd = y.mean(axis=0), np.maximum(y.std(axis=0), 1e-12)
        z = ((y - self._mu) / self._sd).astype(np.float32)
        groups = np.arange(len(x)) if groups is None else np.asarray(groups)
        if len(np.unique(groups)) < 2:
            raise ValueError("need rows of at least two groups (design points): one is held out for validation")
        self._inputs, self._outputs = x.shape[1], y.shape[1]
        self._nets = [self._train_member(m, x, z, groups) for m in range(self.members)]
        self.scale = np.ones(self._outputs)
        return self

    def _train_member(self, m: int, x: np.ndarray, z: np.ndarray, groups: np.ndarray) -> _Member:
        seed = self.seed * 1000 + m
        rng = np.random.default_rng(seed)
        ids = np.unique(groups)
        held = rng.choice(ids, max(1, round(self.validation_share * len(ids))), replace=False)
        val = np.isin(groups, held)
        dev = self._device
        xt, zt = torch.as_tensor(x[~val], device=dev), torch.as_tensor(z[~val], device=dev)
        xv, zv = torch.as_tensor(x[val], device=dev), torch.as_tensor(z[val], device=dev)
        with seeded(seed, dev):
            net = _Member(self._inputs, self._outputs, self.width, self.blocks, self.prior_scale).to(dev)
        opt = torch.optim.AdamW(net.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen = torch_generator(seed, dev)
        # early stopping per output: each head keeps its own best epoch; training ends when none improved lately
        best = torch.full((self._outputs,), math.inf, device=dev)
        best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        waited = 0
        for _ in range(self.epochs):
            net.train()
            for idx in torch.randperm(len(xt), generator=gen, device=dev).split(self.batch_size):
                loss = _nll(net(xt[idx]), zt[idx], self.nll_beta).sum(dim=1).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                score = _nll(net(xv), zv).mean(dim=0)
            improved = score < best - 1e-4
            if improved.any():
                best = torch.where(improved, score, best)
                keep_heads(best_state, net, improved)
                waited = 0
            else:
                waited += 1
                if waited >= self.patience:
                    break
        net.load_state_dict(best_state)
        return net.eval()

    def _fitted(self) -> list[_Member]:
        if not self._nets:
            raise ValueError("the DeepEnsemble is not fitted; call fit() or load() first")
        return self._nets

    def predict(self, x: np.ndarray) -> Prediction:
        """The mixture's mean and variance per output (variance scaled by ``calibrate``)."""
        nets = self._fitted()
        xt = torch.as_tensor(np.asarray(x, dtype=np.float32), device=self._device)
        with torch.no_grad():
            outs = [net(xt) for net in nets]
        k = self._outputs
        means = torch.stack([o[:, :k] for o in outs]).cpu().numpy().astype(np.float64)
        variances = torch.stack([torch.exp(o[:, k:].clamp(-15, 10)) for o in outs]).cpu().numpy().astype(np.float64)
        mean = means.mean(axis=0)
        spread = means.var(axis=0)
        variance = variances.mean(axis=0) + spread
        units = self._sd**2 * self.scale
        return Prediction(mean * self._sd + self._mu, variance * units, spread * units)

    def calibrate(self, x: np.ndarray, y: np.ndarray, level: float = 0.9) -> np.ndarray:
        """Scale the predictive variance per output so that the central ``level`` interval holds that share of the
        rows (x, y): the ``level`` quantile of |standardised residual| becomes the Gaussian's. A quantile, not the
        mean squared residual, because residuals of a surrogate are heavy-tailed and the interval is what users
        read. Returns the scales (1 = already calibrated)."""
        from scipy.stats import norm

        self.scale = np.ones(self._outputs)
        pred = self.predict(x)
        z = np.abs(np.asarray(y, dtype=np.float64) - pred.mean) / np.sqrt(np.maximum(pred.variance, 1e-300))
        self.scale = np.maximum((np.quantile(z, level, axis=0) / norm.ppf(0.5 + level / 2)) ** 2, 1e-6)
        return self.scale

    def save(self, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
        """Every member's weights (safetensors) and the parameters, target scaling and calibration (JSON)."""
        tensors = nn.ModuleList(self._fitted()).state_dict()
        meta = {
            "params": {p: getattr(self, p) for p in _PARAMS},
            "inputs": self._inputs,
            "outputs": self._outputs,
            "mu": self._mu.tolist(),
            "sd": self._sd.tolist(),
            "scale": self.scale.tolist(),
            "metadata": dict(metadata or {}),
        }
        return save_model(path, KIND, tensors, meta)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> tuple[DeepEnsemble, dict[str, Any]]:
        """A saved ensemble and its user metadata; never runs code from the files."""
        stored = load_model(path, kind=KIND, device=resolve_device(device))
        meta = stored.metadata
        try:
            model = cls(**meta["params"], device=device)
            model._device = resolve_device(device)
            model._inputs, model._outputs = int(meta["inputs"]), int(meta["outputs"])
            model._mu, model._sd = np.asarray(meta["mu"]), np.asarray(meta["sd"])
            model.scale = np.asarray(meta["scale"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: model.json is incomplete or malformed ({exc!r})") from None
        shape = (model._inputs, model._outputs, model.width, model.blocks, model.prior_scale)
        nets = nn.ModuleList(_Member(*shape) for _ in range(model.members)).to(model._device)
        model._nets = list(stored.restore(nets, path))
        return model, dict(meta.get("metadata") or {})


def _nll(out: torch.Tensor, z: torch.Tensor, beta: float = 0.0) -> torch.Tensor:
    """Gaussian negative log-likelihood (constant dropped) of standardised targets, (rows, outputs); ``beta`` > 0
    weighs each term by its variance to the power ``beta`` (not differentiated: β-NLL, Seitzer et al., 2022), so
    that outputs the network calls noisy still get their mean fitted."""
    k = z.shape[1]
    mean, logvar = out[:, :k], out[:, k:].clamp(-15, 10)
    terms = 0.5 * (logvar + (z - mean) ** 2 * torch.exp(-logvar))
    if beta:
        terms = terms * torch.exp(beta * logvar.detach())
    return terms
