"""Conditional tabular GAN (CTGAN-like WGAN-GP with packing) whose condition columns are met exactly.

Condition columns are never generated: the generator gets noise plus the one-hot conditions and writes only the data
columns, and `sample` copies the requested conditions into its output. Training draws real rows by class of the first
condition column with probability proportional to log(1 + n_c) (training-by-sampling), fully vectorised.
"""

from __future__ import annotations

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

from surrogates.persist import load_model, save_model
from surrogates.tabular import CHOICE, VALUE, TableEncoder
from surrogates.training import EpochLog, Progress, check_seed, resolve_device, seeded, torch_generator

KIND = "ConditionalGAN"
_TAU = 0.2
_SAMPLE_CHUNK = 10_000
_LOSSES = ("loss_d", "loss_g", "gradient_penalty", "wasserstein")
_MAX_CATEGORIES = 1000  # a condition column with more categories than this is not categorical
_PARAMS = ("epochs", "batch_size", "pac", "embedding_dim", "generator_dims", "discriminator_dims", "lr", "gp_weight",
           "discriminator_steps", "target_steps", "max_modes", "seed")  # fmt: skip


class _Residual(nn.Module):
    def __init__(self, i: int, o: int):
        super().__init__()
        self.fc, self.bn, self.relu = nn.Linear(i, o), nn.BatchNorm1d(o), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.relu(self.bn(self.fc(x))), x], dim=1)


def _generator(in_dim: int, dims: Sequence[int], out_dim: int) -> nn.Sequential:
    layers, width = [], in_dim
    for d in dims:
        layers.append(_Residual(width, d))
        width += d
    return nn.Sequential(*layers, nn.Linear(width, out_dim))


class _Dropout(nn.Module):
    """Inverted dropout from a uniform draw: the same as nn.Dropout, but torch's CPU `rand` is faster than its
    `bernoulli_`, and dropout runs six times a step."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x * ((torch.rand(x.shape, device=x.device) >= self.p).to(x.dtype) / (1.0 - self.p))


class _Discriminator(nn.Module):
    def __init__(self, in_dim: int, dims: Sequence[int], pac: int):
        super().__init__()
        layers, width = [], in_dim * pac
        for d in dims:
            layers += [nn.Linear(width, d), nn.LeakyReLU(0.2), _Dropout(0.5)]
            width = d
        self.pac, self.seq = pac, nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x.reshape(-1, x.shape[1] * self.pac))


class _Layout:
    """The generator's own order of the encoded dims: value dims, then choice spans grouped by width.

    Equal-width spans side by side make the activation a few reshaped softmaxes without any gather; the real data is
    permuted into this order once, and samples are permuted back before decoding.
    """

    def __init__(self, encoder: TableEncoder):
        values = [s.start for s in encoder.spans if s.kind == VALUE]
        by_width: dict[int, list[range]] = {}
        for span in encoder.spans:
            if span.kind == CHOICE:
                by_width.setdefault(span.stop - span.start, []).append(range(span.start, span.stop))
        self.order = np.array(values + [d for w in sorted(by_width) for r in by_width[w] for d in r], dtype=np.int64)
        self.restore = np.argsort(self.order)
        self.n_values = len(values)
        self.blocks = tuple((w, len(by_width[w])) for w in sorted(by_width))

    def activate(self, raw: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """tanh on value dims; Gumbel-softmax (temperature 0.2) on each choice span."""
        b, nv = raw.shape[0], self.n_values
        u = torch.rand(b, raw.shape[1] - nv, generator=generator, device=raw.device).clamp_(1e-10, 1.0 - 1e-7)
        logits = (raw[:, nv:] - torch.log(-torch.log(u))) / _TAU
        parts, start = [torch.tanh(raw[:, :nv])], 0
        for width, count in self.blocks:
            block = logits[:, start : start + width * count].reshape(b, count, width)
            e = (block - block.amax(-1, keepdim=True).detach()).exp()  # the shift leaves softmax and its gradient
            parts.append((e / e.sum(-1, keepdim=True)).reshape(b, width * count))
            start += width * count
        return torch.cat(parts, dim=1)


class _ClassSampler:
    """Training-by-sampling: a class c of the target with probability ∝ log(1 + n_c), then a row uniformly in it."""

    def __init__(self, target: np.ndarray, device: torch.device):
        order = np.argsort(target, kind="stable")
        counts = np.bincount(target)
        present = np.flatnonzero(counts)
        self.order = torch.as_tensor(order, device=device)
        self.counts = torch.as_tensor(counts[present], device=device)
        self.offsets = torch.as_tensor(np.concatenate([[0], np.cumsum(counts)])[present], device=device)
        self.probs = torch.as_tensor(np.log1p(counts[present]), dtype=torch.float64, device=device)

    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        cls = torch.multinomial(self.probs, n, replacement=True, generator=generator)
        within = (torch.rand(n, generator=generator, device=cls.device, dtype=torch.float64) * self.counts[cls]).long()
        return self.order[self.offsets[cls] + torch.minimum(within, self.counts[cls] - 1)]


@dataclass(frozen=True, slots=True)
class _Conditions:
    """The distinct condition combinations seen in training: codes per condition column and row counts."""

    codes: np.ndarray  # (m, k) int
    counts: np.ndarray  # (m,) int


def _adam(params: Sequence[nn.Parameter], lr: float) -> torch.optim.Adam:
    """CTGAN's Adam settings; the fused kernel where this torch has it (several times faster on CPU)."""
    try:
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.9), weight_decay=1e-6, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.9), weight_decay=1e-6, foreach=True)


def _penalty(disc: _Discriminator, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    pac, width = disc.pac, real.shape[1]
    alpha = torch.rand(real.shape[0] // pac, 1, 1, generator=gen, device=real.device)
    alpha = alpha.expand(-1, pac, width).reshape(-1, width)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(disc(mixed).sum(), mixed, create_graph=True)
    return ((grad.reshape(-1, pac * width).norm(2, dim=1) - 1) ** 2).mean()


class ConditionalGAN:
    """CTGAN-like conditional WGAN-GP on Arrow tables; conditions are copied into samples, so always met exactly."""

    def __init__(
        self,
        *,
        epochs: int | None = None,
        batch_size: int = 1000,
        pac: int = 10,
        embedding_dim: int = 128,
        generator_dims: Sequence[int] = (256, 256),
        discriminator_dims: Sequence[int] = (256, 256),
        lr: float = 2e-4,
        gp_weight: float = 10.0,
        discriminator_steps: int = 1,
        target_steps: int = 3000,
        max_modes: int = 10,
        seed: int = 0,
        device: str = "auto",
    ):
        self.epochs, self.batch_size, self.pac, self.embedding_dim = epochs, batch_size, pac, embedding_dim
        self.generator_dims, self.discriminator_dims = tuple(generator_dims), tuple(discriminator_dims)
        self.lr, self.gp_weight, self.discriminator_steps = lr, gp_weight, discriminator_steps
        self.target_steps, self.max_modes, self.seed, self.device = target_steps, max_modes, seed, device
        self.history: list[EpochLog] = []
        self._generator: nn.Sequential | None = None
        self._metadata: dict[str, Any] = {}

    # ----- fitting

    def _check_params(self) -> None:
        positive = ("batch_size", "pac", "embedding_dim", "discriminator_steps", "target_steps", "max_modes")
        bad = [p for p in positive if not isinstance(getattr(self, p), int) or getattr(self, p) < 1]
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            bad.append("epochs")
        if bad:
            raise ValueError(f"ConditionalGAN parameter(s) {bad} must be positive integers")
        if self.batch_size % self.pac:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of pac ({self.pac})")
        check_seed(self.seed)

    def fit(
        self,
        table: pa.Table,
        columns: Sequence[str],
        condition: Sequence[str],
        group: str | None = None,
        progress: Progress | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ConditionalGAN:
        """Learn to generate `columns` given the categorical `condition` columns (first = the target class).

        `group` (one of `condition`, e.g. "station") decides which columns are structurally missing in a row.
        """
        self._check_params()
        columns, condition = tuple(columns), tuple(condition)
        if not condition:
            raise ValueError("condition needs at least one column (the first is the target class)")
        overlap = set(columns) & set(condition)
        if overlap:
            raise ValueError(f"column(s) {sorted(overlap)} cannot be both generated and a condition")
        if group is not None and group not in condition:
            raise ValueError(f"group {group!r} must be one of the condition columns {list(condition)}")
        absent = [c for c in (*condition, *columns) if c not in table.column_names]
        if absent:
            raise ValueError(f"table has no column(s) {absent}")
        if table.num_rows == 0:
            raise ValueError("cannot fit a ConditionalGAN on an empty table")
        self._device = resolve_device(self.device)
        self._columns, self._condition, self._group = columns, condition, group
        self._order = tuple(c for c in table.column_names if c in set(columns) | set(condition))
        self._encoder = TableEncoder(max_modes=self.max_modes, seed=self.seed).fit(table, columns, group)
        self._cond_encoder = TableEncoder(discrete_max=_MAX_CATEGORIES, point_mass=1.0, seed=self.seed)
        self._cond_encoder.fit(table, condition)
        continuous = [s.column for s in self._cond_encoder.spans if s.kind == VALUE]
        if continuous:
            raise ValueError(f"condition column(s) {continuous} have more than {_MAX_CATEGORIES} values")
        codes = self._codes(self._cond_encoder.transform(table))
        combo_codes, row_combo, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
        self._combos = _Conditions(combo_codes, counts)
        self._rows, self._metadata = table.num_rows, dict(metadata or {})
        self._build()
        self._train(self._encoder.transform(table), row_combo.reshape(-1), codes[:, 0], progress)
        return self

    def _codes(self, onehot: np.ndarray) -> np.ndarray:
        return np.stack([np.argmax(onehot[:, s.start : s.stop], axis=1) for s in self._cond_encoder.spans], axis=1)

    def _build(self) -> None:
        """Derived tensors (combination one-hots and masks, activation layout) and the untrained generator."""
        codes = self._combos.codes
        onehot = np.zeros((codes.shape[0], self._cond_encoder.dim), dtype=np.float32)
        for j, span in enumerate(self._cond_encoder.spans):
            onehot[np.arange(codes.shape[0]), span.start + codes[:, j]] = 1
        groups = self._cond_encoder.inverse_transform(onehot)[self._group] if self._group else None
        mask = self._encoder.mask(groups if groups is not None else np.zeros(codes.shape[0]))
        self._combo_onehot = torch.as_tensor(onehot, device=self._device)
        self._layout = _Layout(self._encoder)
        self._combo_mask = torch.as_tensor(mask[:, self._layout.order], device=self._device)
        in_dim = self.embedding_dim + self._cond_encoder.dim
        with seeded(self.seed, self._device):
            self._generator = _generator(in_dim, self.generator_dims, self._encoder.dim).to(self._device)

    def _fake(self, combo: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated rows (generator order, structurally missing dims zeroed) and their condition one-hots."""
        cond = self._combo_onehot[combo]
        z = torch.randn(combo.shape[0], self.embedding_dim, generator=gen, device=self._device)
        raw = self._generator(torch.cat([z, cond], dim=1))
        return self._layout.activate(raw, gen) * self._combo_mask[combo], cond

    def _train(self, data: np.ndarray, row_combo: np.ndarray, target: np.ndarray, progress: Progress | None) -> None:
        device, batch = self._device, self.batch_size
        real_all = torch.as_tensor(data[:, self._layout.order], dtype=torch.float32, device=device)
        combo_of_row = torch.as_tensor(row_combo, device=device)
        sampler = _ClassSampler(target, device)
        gen = torch_generator(self.seed, device)
        n = real_all.shape[0]
        epochs = self.epochs or max(1, math.ceil(self.target_steps * batch / n))
        steps = max(n // batch, 1)
        self.history = []
        with seeded(self.seed + 1, device):  # the global torch RNG (dropout) is seeded here and restored afterwards
            disc = _Discriminator(self._encoder.dim + self._cond_encoder.dim, self.discriminator_dims, self.pac)
            disc = disc.to(device)
            opt_g, opt_d = _adam(list(self._generator.parameters()), self.lr), _adam(list(disc.parameters()), self.lr)
            self._generator.train()
            for epoch in range(1, epochs + 1):
                start, sums = time.perf_counter(), torch.zeros(4, device=device)
                for _ in range(steps):
                    sums += self._step(disc, opt_g, opt_d, real_all, combo_of_row, sampler, gen)
                losses = dict(zip(_LOSSES, (sums / steps).tolist(), strict=True))
                log = EpochLog(epoch=epoch, losses=losses, seconds=time.perf_counter() - start)
                self.history.append(log)
                if progress is not None:
                    progress(epoch, epochs, log)
        self._generator.eval()
        self._critic = disc.eval()

    def _step(
        self,
        disc: _Discriminator,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        real_all: torch.Tensor,
        combo_of_row: torch.Tensor,
        sampler: _ClassSampler,
        gen: torch.Generator,
    ) -> torch.Tensor:
        """One generator step after `discriminator_steps` critic steps; the last critic batch's fakes (detached
        there) also train the generator, so each step runs the generator forward once with gradients."""
        packs = self.batch_size // self.pac
        for i in range(self.discriminator_steps):
            idx = sampler(self.batch_size, gen)
            with torch.set_grad_enabled(i == self.discriminator_steps - 1):
                fake, cond = self._fake(combo_of_row[idx], gen)
            real_cat, fake_cat = torch.cat([real_all[idx], cond], 1), torch.cat([fake.detach(), cond], 1)
            scores = disc(torch.cat([real_cat, fake_cat]))  # one pass; packs never mix real and fake rows
            distance = scores[:packs].mean() - scores[packs:].mean()
            penalty = _penalty(disc, real_cat, fake_cat, gen)
            loss_d = -distance + self.gp_weight * penalty
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        disc.requires_grad_(False)  # the generator's backward needs no critic weight gradients
        loss_g = -disc(torch.cat([fake, cond], 1)).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        disc.requires_grad_(True)
        return torch.stack([loss_d, loss_g, penalty, distance]).detach()  # in _LOSSES order

    # ----- sampling

    def _fitted(self) -> nn.Sequential:
        if self._generator is None:
            raise ValueError("the ConditionalGAN is not fitted; call fit() or load() first")
        return self._generator

    def _matching(self, condition: Mapping[str, Any] | None) -> np.ndarray:
        """Indices of the training combinations that agree with `condition`."""
        selected = np.ones(self._combos.codes.shape[0], dtype=bool)
        for name, value in (condition or {}).items():
            if name not in self._condition:
                raise ValueError(f"unknown condition column {name!r}; the conditions are {list(self._condition)}")
            j = self._condition.index(name)
            selected &= self._combos.codes[:, j] == self._cond_encoder.category_index(name, value)
        if not selected.any():
            described = ", ".join(f"{k}={v!r}" for k, v in condition.items())
            raise ValueError(f"the combination {described} never occurs in the training data")
        return np.flatnonzero(selected)

    def sample(self, n: int, condition: Mapping[str, Any] | None = None, seed: int | None = None) -> pa.Table:
        """`n` synthetic rows meeting `condition` exactly (columns in training-table order, original dtypes).

        Condition columns not given are drawn from the training frequencies of the combinations that match
        the given values. `seed` None uses the model's seed, so sampling is always reproducible.
        """
        generator = self._fitted()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        candidates = self._matching(condition)
        gen = torch_generator(self.seed if seed is None else seed, self._device)
        weights = torch.as_tensor(self._combos.counts[candidates], dtype=torch.float64, device=self._device)
        draws = torch.zeros(0, dtype=torch.long, device=self._device)
        if n:
            draws = torch.multinomial(weights, int(n), replacement=True, generator=gen)
        picked = torch.as_tensor(candidates, device=self._device)[draws]
        chunks = []
        with torch.no_grad():
            for combo in picked.split(_SAMPLE_CHUNK):
                z = torch.randn(combo.shape[0], self.embedding_dim, generator=gen, device=self._device)
                raw = generator(torch.cat([z, self._combo_onehot[combo]], dim=1))
                chunks.append((self._layout.activate(raw, gen) * self._combo_mask[combo]).cpu())
        data = torch.cat(chunks).numpy()[:, self._layout.restore] if chunks else np.zeros((0, self._encoder.dim))
        conditions = self._cond_encoder.inverse_transform(self._combo_onehot[picked].cpu().numpy())
        groups = conditions[self._group] if self._group else None
        generated = self._encoder.inverse_transform(data, groups)
        parts = {**{c: conditions[c] for c in self._condition}, **{c: generated[c] for c in self._columns}}
        return pa.table({c: parts[c] for c in self._order})

    def critic_score(self, table: pa.Table) -> np.ndarray:
        """Per row of `table` (data and condition columns), minus the critic's output: higher = less like the
        training rows. Needs ``pac = 1`` (a critic of single rows) and a model fitted here (critics are not saved)."""
        critic = getattr(self, "_critic", None)
        if critic is None or self.pac != 1:
            raise ValueError("critic_score needs a ConditionalGAN fitted in this process with pac=1")
        data = self._encoder.transform(table)[:, self._layout.order]
        rows = np.concatenate([data, self._cond_encoder.transform(table)], axis=1)
        with torch.no_grad():
            scores = [
                critic(torch.as_tensor(c, device=self._device))
                for c in np.array_split(rows, max(1, len(rows) // _SAMPLE_CHUNK))
            ]
        return -torch.cat(scores).reshape(-1).cpu().numpy().astype(np.float64)

    # ----- persistence

    def save(self, path: str | Path) -> Path:
        """Write the generator (safetensors) and everything needed to sample (JSON) into directory `path`."""
        generator = self._fitted()
        meta = {
            "params": {p: getattr(self, p) for p in _PARAMS},
            "columns": list(self._columns),
            "condition": list(self._condition),
            "group": self._group,
            "order": list(self._order),
            "rows": self._rows,
            "encoder": self._encoder.to_dict(),
            "condition_encoder": self._cond_encoder.to_dict(),
            "combinations": {"codes": self._combos.codes.tolist(), "counts": self._combos.counts.tolist()},
            "history": [log.to_dict() for log in self.history],
            "metadata": self._metadata,
        }
        return save_model(path, KIND, generator.state_dict(), meta)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> ConditionalGAN:
        """Rebuild a saved model; samples equal the original's for the same seed. Never runs code from the files."""
        stored = load_model(path, kind=KIND, device=resolve_device(device))
        meta = stored.metadata
        try:
            params = dict(meta["params"])
            model = cls(**params, device=device)
            model._device = resolve_device(device)
            model._columns, model._condition = tuple(meta["columns"]), tuple(meta["condition"])
            model._group, model._order, model._rows = meta["group"], tuple(meta["order"]), meta["rows"]
            model._encoder = TableEncoder.from_dict(meta["encoder"])
            model._cond_encoder = TableEncoder.from_dict(meta["condition_encoder"])
            combos = meta["combinations"]
            model._combos = _Conditions(np.asarray(combos["codes"], dtype=np.int64), np.asarray(combos["counts"]))
            model.history = [EpochLog.from_dict(d) for d in meta["history"]]
            model._metadata = dict(meta.get("metadata") or {})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: model.json is incomplete or malformed ({exc!r})") from None
        model._build()
        stored.restore(model._generator, path)
        return model

    @property
    def metadata(self) -> dict[str, Any]:
        """The user metadata given to `fit` (e.g. the dataset card hash)."""
        return dict(self._metadata)
