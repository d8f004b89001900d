"""β-VAE over the feature columns of operation rows: process latents, anomaly scores and decoded process states.

Rows are encoded by the GAN's :class:`~surrogates.tabular.TableEncoder` (shared, not forked): continuous columns
as a mode-specific normalised value plus a mode one-hot, categoricals as one-hots, columns that never exist in a
row's group (station) masked out of the input and the loss. The decoder's likelihood is mixed
(:mod:`surrogates.likelihood`): Gaussian with learned variance on values, categorical on choices.

With ``window = w > 1`` an example is the last ``w`` operations of one machine (``streams`` gives the machine of each
row; its rows must be in time order): the latent then describes the machine's recent state, and every score and code
belongs to the window ending at that row (NaN for a stream's first ``w − 1`` rows).

``score`` is the negative ELBO per example, in nats: the reconstruction's negative log-likelihood at the posterior
mean (a deterministic one-point estimate) plus KL(q(z|x) ‖ N(0, I)). Higher = less like the training data.
KL annealing: β grows linearly to ``beta`` over the first ``kl_warmup`` share of the epochs (``beta · epoch / warm``).
Continuous columns get one Gaussian each by default (``max_modes = 1``: the likelihood and the residuals are then in
the column's own standardised units; raise it for multi-modal columns).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from surrogates.columns import VALUE
from surrogates.likelihood import MixedLikelihood
from surrogates.persist import load_model, save_model
from surrogates.tabular import TableEncoder
from surrogates.training import EpochLog, Progress, check_seed, resolve_device, seeded, torch_generator

KIND = "ProcessVAE"
ACTIVE_UNIT = 0.01  # nats: a latent dim whose mean KL to the prior is below this carries nothing (collapsed)
_CHUNK = 20_000
_PARAMS = ("latent_dim", "hidden", "beta", "kl_warmup", "epochs", "target_steps", "batch_size", "lr",
           "max_modes", "window", "column_dropout", "seed")  # fmt: skip


@dataclass(frozen=True)
class Encoding:
    """Posterior means and variances of the latents, one row per example (NaN where no full window ends)."""

    mean: np.ndarray
    variance: np.ndarray


def _mlp(i: int, dims: Sequence[int], o: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for d in dims:
        layers += [nn.Linear(i, d), nn.SiLU()]
        i = d
    return nn.Sequential(*layers, nn.Linear(i, o))


def window_index(streams: np.ndarray, window: int) -> np.ndarray:
    """(n_full, window) row indices of the windows ending at each row with ``window − 1`` predecessors in its stream
    (rows of a stream in the order given); the last column is the row the window belongs to."""
    streams = np.asarray(streams)
    order = np.argsort(streams, kind="stable")
    sorted_streams = streams[order]
    first = np.r_[True, sorted_streams[1:] != sorted_streams[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    position = np.arange(len(order)) - start
    ends = np.flatnonzero(position >= window - 1)
    return order[ends[:, None] + np.arange(-window + 1, 1)[None, :]]


class ProcessVAE:
    """β-VAE with a mixed-type likelihood and structural-missingness masks (see the module docstring)."""

    def __init__(
        self,
        *,
        latent_dim: int = 8,
        hidden: Sequence[int] = (128, 128),
        beta: float = 1.0,
        kl_warmup: float = 0.3,
        epochs: int | None = None,
        target_steps: int = 6000,
        batch_size: int = 512,
        lr: float = 1e-3,
        max_modes: int = 1,
        window: int = 1,
        column_dropout: float = 0.1,
        seed: int = 0,
        device: str = "auto",
    ):
        self.latent_dim, self.hidden, self.beta, self.kl_warmup = latent_dim, tuple(hidden), beta, kl_warmup
        self.epochs, self.target_steps, self.batch_size, self.lr = epochs, target_steps, batch_size, lr
        self.max_modes, self.window, self.seed, self.device = max_modes, window, seed, device
        self.column_dropout = column_dropout
        self.history: list[EpochLog] = []
        self._net: nn.ModuleDict | None = None
        self._metadata: dict[str, Any] = {}

    def _check_params(self) -> None:
        positive = ("latent_dim", "target_steps", "batch_size", "max_modes", "window")
        bad = [p for p in positive if isinstance(getattr(self, p), bool) or not isinstance(getattr(self, p), int)]
        bad += [p for p in positive if p not in bad and getattr(self, p) < 1]
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            bad.append("epochs")
        if not self.hidden or any(not isinstance(d, int) or d < 1 for d in self.hidden):
            bad.append("hidden")
        if not (self.beta >= 0 and 0 <= self.kl_warmup <= 1 and self.lr > 0 and 0 <= self.column_dropout < 1):
            bad.append("beta/kl_warmup/lr/column_dropout")
        if bad:
            raise ValueError(f"ProcessVAE parameter(s) {bad} are invalid (positive integers, beta ≥ 0, kl_warmup ≤ 1)")
        check_seed(self.seed)

    # ----- fitting

    def fit(
        self,
        table: pa.Table,
        columns: Sequence[str],
        group: str | None = None,
        streams: np.ndarray | None = None,
        progress: Progress | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ProcessVAE:
        """Learn latents of `columns`; `group` (e.g. station) decides structural missingness; `streams` (one id per
        row, rows in time order within a stream) is needed when ``window > 1``."""
        self._check_params()
        if table.num_rows == 0:
            raise ValueError("cannot fit a ProcessVAE on an empty table")
        self._device = resolve_device(self.device)
        self._encoder = TableEncoder(max_modes=self.max_modes, seed=self.seed).fit(table, columns, group)
        self._rows, self._metadata = table.num_rows, dict(metadata or {})
        x, mask, cond, _ = self._examples(table, streams)
        if x.shape[0] == 0:
            raise ValueError(f"no stream has {self.window} consecutive rows: nothing to fit")
        self._build()
        self._train(x, mask, cond, progress)
        return self

    def _build(self) -> None:
        d = self._encoder.dim
        spans = [
            dataclasses.replace(s, start=s.start + k * d, stop=s.stop + k * d)
            for k in range(self.window)
            for s in self._encoder.spans
        ]
        self._likelihood = MixedLikelihood(spans, d * self.window, self._device)
        names = self._encoder.columns
        column_of_dim = np.zeros(d * self.window, dtype=np.int64)
        for s in spans:  # window position k of column c is input column k·C + c
            column_of_dim[s.start : s.stop] = (s.start // d) * len(names) + names.index(s.column)
        self._column_of_dim = torch.as_tensor(column_of_dim, device=self._device)
        self._first_dim = torch.as_tensor(np.unique(column_of_dim, return_index=True)[1], device=self._device)
        inputs = d * self.window + len(self._first_dim) + self._groups
        with seeded(self.seed, self._device):
            self._net = nn.ModuleDict(
                {
                    "encoder": _mlp(inputs, self.hidden, 2 * self.latent_dim),
                    "decoder": _mlp(self.latent_dim + self._groups, self.hidden[::-1], self._likelihood.out_dim),
                }
            ).to(self._device)

    @property
    def _groups(self) -> int:
        """Number of groups: the group (station) one-hot is a condition of both networks."""
        return len(self._encoder.group_values)

    def _condition(self, groups: Any, n: int) -> np.ndarray:
        """One-hot group of each row (an (n, 0) array without a group)."""
        if not self._groups:
            return np.zeros((n, 0), dtype=np.float32)
        if groups is None:
            raise ValueError(f"groups (values of {self._encoder.group!r}) are required: the model has a group")
        return np.eye(self._groups, dtype=np.float32)[self._encoder.group_codes(groups)]

    def _examples(self, table: pa.Table, streams: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Encoded examples, their masks, their group one-hots and the row each belongs to."""
        x = self._encoder.transform(table)
        group = self._encoder.group
        mask = self._encoder.mask(table[group]) if group else np.ones_like(x)
        cond = self._condition(table[group] if group else None, table.num_rows)
        if self.window == 1:
            return x, mask, cond, np.arange(table.num_rows)
        if streams is None or len(streams) != table.num_rows:
            raise ValueError(f"a window model (window={self.window}) needs one stream id per row")
        idx = window_index(np.asarray(streams), self.window)
        n = idx.shape[0]
        return x[idx].reshape(n, -1), mask[idx].reshape(n, -1), cond[idx[:, -1]], idx[:, -1]

    def _posterior(self, x: torch.Tensor, mask: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Posterior mean and log-variance; the encoder sees the masked row and which columns it holds."""
        h = self._net["encoder"](torch.cat([x * mask, mask[:, self._first_dim], cond], dim=1))
        mean, logvar = h[:, : self.latent_dim], h[:, self.latent_dim :].clamp(-12.0, 8.0)
        return mean, logvar

    @staticmethod
    def _kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Per-dimension KL(N(mean, e^logvar) ‖ N(0, 1))."""
        return 0.5 * (mean**2 + torch.exp(logvar) - 1.0 - logvar)

    def _train(self, data: np.ndarray, masks: np.ndarray, cond: np.ndarray, progress: Progress | None) -> None:
        device = self._device
        x_all = torch.as_tensor(data, dtype=torch.float32, device=device)
        m_all = torch.as_tensor(masks, dtype=torch.float32, device=device)
        c_all = torch.as_tensor(cond, dtype=torch.float32, device=device)
        n, batch = x_all.shape[0], min(self.batch_size, x_all.shape[0])
        steps = max(n // batch, 1)
        epochs = self.epochs or max(1, math.ceil(self.target_steps / steps))
        warm = max(self.kl_warmup * epochs, 1e-9)
        gen = torch_generator(self.seed + 1, device)
        opt = torch.optim.Adam(self._net.parameters(), lr=self.lr)
        self.history = []
        self._net.train()
        for epoch in range(1, epochs + 1):
            start, sums = time.perf_counter(), torch.zeros(3, device=device)
            beta = self.beta * min(1.0, epoch / warm) if self.kl_warmup else self.beta
            order = torch.randperm(n, generator=gen, device=device)
            for s in range(steps):
                idx = order[s * batch : (s + 1) * batch]
                x, m, c = x_all[idx], m_all[idx], c_all[idx]
                seen = m
                if self.column_dropout:  # hide whole columns from the encoder: it learns to infer a reading
                    shown = torch.rand((len(idx), len(self._first_dim)), generator=gen, device=device)
                    seen = m * (shown >= self.column_dropout).to(m.dtype)[:, self._column_of_dim]
                mean, logvar = self._posterior(x, seen, c)
                z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen, device=device)
                recon = self._likelihood.nll(self._net["decoder"](torch.cat([z, c], dim=1)), x, m).mean()
                kl = self._kl(mean, logvar).sum(dim=1).mean()
                loss = recon + beta * kl
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sums += torch.stack([recon + kl, recon, kl]).detach()
            mean_losses = (sums / steps).tolist()
            losses = {"loss": mean_losses[0], "reconstruction": mean_losses[1], "kl": mean_losses[2], "beta": beta}
            log = EpochLog(epoch=epoch, losses=losses, seconds=time.perf_counter() - start)
            self.history.append(log)
            if progress is not None:
                progress(epoch, epochs, log)
        self._net.eval()

    # ----- inference

    def _fitted(self) -> nn.ModuleDict:
        if self._net is None:
            raise ValueError("the ProcessVAE is not fitted; call fit() or load() first")
        return self._net

    def _per_example(self, table: pa.Table, streams: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Posterior mean, log-variance and negative ELBO of every example, and the row each belongs to."""
        net = self._fitted()
        x, mask, cond, rows = self._examples(table, streams)
        means, logvars, scores = [], [], []
        with torch.no_grad():
            for start in range(0, x.shape[0], _CHUNK):
                xb, mb, cb = (torch.as_tensor(a[start : start + _CHUNK], device=self._device) for a in (x, mask, cond))
                mean, logvar = self._posterior(xb, mb, cb)
                nll = self._likelihood.nll(net["decoder"](torch.cat([mean, cb], dim=1)), xb, mb)
                scores.append((nll + self._kl(mean, logvar).sum(dim=1)).cpu().numpy())
                means.append(mean.cpu().numpy())
                logvars.append(logvar.cpu().numpy())
        empty = np.zeros((0, self.latent_dim), dtype=np.float32)
        return (np.concatenate(means or [empty]), np.concatenate(logvars or [empty]),
                np.concatenate(scores or [np.zeros(0)]), rows)  # fmt: skip

    def _per_row(self, values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
        out = np.full((n, *values.shape[1:]), np.nan)
        out[rows] = values
        return out

    def encode(self, table: pa.Table, streams: np.ndarray | None = None) -> Encoding:
        """Posterior means and variances (n, latent_dim) per row (its window's, for a window model)."""
        mean, logvar, _, rows = self._per_example(table, streams)
        n = table.num_rows
        return Encoding(self._per_row(mean, rows, n), self._per_row(np.exp(logvar), rows, n))

    def score(self, table: pa.Table, streams: np.ndarray | None = None) -> np.ndarray:
        """Negative ELBO per row in nats (see the module docstring); NaN where no full window ends."""
        _, _, scores, rows = self._per_example(table, streams)
        return self._per_row(scores, rows, table.num_rows)

    def kl_per_dim(self, table: pa.Table, streams: np.ndarray | None = None) -> np.ndarray:
        """Mean KL to the prior per latent dimension over the rows of `table` (nats)."""
        mean, logvar, _, _ = self._per_example(table, streams)
        return self._kl(torch.as_tensor(mean), torch.as_tensor(logvar)).mean(dim=0).numpy()

    def active_units(self, table: pa.Table, streams: np.ndarray | None = None) -> np.ndarray:
        """Which latent dims are active: mean KL to the prior over the rows of `table` above ACTIVE_UNIT nats."""
        return self.kl_per_dim(table, streams) > ACTIVE_UNIT

    @property
    def value_columns(self) -> tuple[str, ...]:
        """The continuous columns, in the order of `residuals`' columns."""
        return tuple(span.column for span in self.encoder.spans if span.kind == VALUE)

    def residuals(self, table: pa.Table) -> np.ndarray:
        """(n, value columns) leave-one-column-out standardised residuals: each continuous column's encoded value
        against the decoder's mean and sd at the posterior mean of the row *with that column hidden* (a reading
        predicted from the rest of the state, so the latent cannot absorb the reading's own anomaly). NaN where the
        column does not exist in the row's group or holds no value of a mixture mode. Row models only."""
        net = self._fitted()
        if self.window != 1:
            raise ValueError("residuals work on row models (window = 1); this model describes windows")
        x, mask, cond, _ = self._examples(table, None)
        lik, names = self._likelihood, self._encoder.columns
        out = np.full((x.shape[0], len(self.value_columns)), np.nan)
        with torch.no_grad():
            for j, column in enumerate(self.value_columns):
                dim = int(lik.value_dims[j])
                hidden = (self._column_of_dim != names.index(column)).to(torch.float32)
                for start in range(0, x.shape[0], _CHUNK):
                    xb, mb, cb = (
                        torch.as_tensor(a[start : start + _CHUNK], device=self._device) for a in (x, mask, cond)
                    )
                    mean = self._posterior(xb, mb * hidden, cb)[0]
                    location, logvar = lik.split(net["decoder"](torch.cat([mean, cb], dim=1)))
                    r = (xb[:, dim] - location[:, dim]) * torch.exp(-0.5 * logvar[:, j])
                    out[start : start + _CHUNK, j] = r.cpu().numpy()
        in_mode = np.stack([self._encoder.in_mode(x, c) for c in self.value_columns], axis=1) if out.size else out
        return np.where(in_mode, out, np.nan)

    def decode(self, z: np.ndarray, groups: Any = None) -> pa.Table:
        """The expected row of each latent code (n, latent_dim): decoder means, most probable categories."""
        net = self._fitted()
        if self.window != 1:
            raise ValueError("decode works on row models (window = 1); this model describes windows")
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected latent codes of shape (n, {self.latent_dim}), got {z.shape}")
        cond = self._condition(groups, z.shape[0])
        with torch.no_grad():
            z_and_cond = torch.as_tensor(np.concatenate([z, cond], axis=1), device=self._device)
            out = self._likelihood.expected(net["decoder"](z_and_cond))
        return self._encoder.inverse_transform(out.cpu().numpy(), groups)

    @property
    def encoder(self) -> TableEncoder:
        """The fitted table encoder."""
        self._fitted()
        return self._encoder

    @property
    def metadata(self) -> dict[str, Any]:
        """The user metadata given to `fit` (e.g. the dataset card hash)."""
        return dict(self._metadata)

    # ----- persistence

    def save(self, path: str | Path) -> Path:
        """Write the network (safetensors) and the encoder, parameters and history (JSON) into directory `path`."""
        net = self._fitted()
        meta = {
            "params": {p: list(v) if isinstance(v := getattr(self, p), tuple) else v for p in _PARAMS},
            "rows": self._rows,
            "encoder": self._encoder.to_dict(),
            "history": [log.to_dict() for log in self.history],
            "metadata": self._metadata,
        }
        return save_model(path, KIND, net.state_dict(), meta)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> ProcessVAE:
        """Rebuild a saved model (same codes and scores as the original). Never runs code from the files."""
        stored = load_model(path, kind=KIND, device=resolve_device(device))
        meta = stored.metadata
        try:
            model = cls(**dict(meta["params"]), device=device)
            model._device = resolve_device(device)
            model._encoder = TableEncoder.from_dict(meta["encoder"])
            model._rows = meta["rows"]
            model.history = [EpochLog.from_dict(d) for d in meta["history"]]
            model._metadata = dict(meta.get("metadata") or {})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: model.json is incomplete or malformed ({exc!r})") from None
        model._build()
        stored.restore(model._net, path)
        return model
