"""Reversible table encoder for conditional tabular GANs (CTGAN-style mode-specific normalisation).

A categorical column becomes one "choice" span (one-hot). A continuous column becomes a "value" dim
alpha = (x - mu_k) / (4 sigma_k) followed by a "choice" span over [exact point masses..., mixture modes..., missing?].
With a `group` column (e.g. station), a column that is missing on every row of a group is structurally missing there:
its dims are zero in the encoding and in `mask`, and `inverse_transform` writes NaN/null there. Missing values
elsewhere are a category ("missing" mode) of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from surrogates.columns import (
    CHOICE,
    SKEW,
    VALUE,
    Categorical,
    Continuous,
    Span,
    Spec,
    as_arrow,
    check_type,
    float_values,
    lookup_codes,
    missing_mask,
    mixture,
    plain_array,
    skew,
    spec_from_json,
    spec_to_json,
    type_from_json,
    type_to_json,
)


class TableEncoder:
    """Reversible encoder of Arrow table columns into a float matrix (see the module docstring for the layout)."""

    def __init__(self, *, max_modes: int = 10, discrete_max: int = 16, point_mass: float = 0.05, seed: int = 0):
        self.max_modes = max_modes
        self.discrete_max = discrete_max
        self.point_mass = point_mass
        self.seed = seed
        self._specs: tuple[Spec, ...] | None = None

    # ----- fitting

    def fit(self, table: pa.Table, columns: Sequence[str], group: str | None = None) -> TableEncoder:
        """Learn each column's encoding from `table`; `group` (not encoded) decides structural missingness."""
        if self.max_modes < 1 or self.discrete_max < 0 or not 0 < self.point_mass <= 1:
            raise ValueError("TableEncoder needs max_modes >= 1, discrete_max >= 0 and 0 < point_mass <= 1")
        columns = tuple(columns)
        if not columns or len(set(columns)) != len(columns):
            raise ValueError(f"columns must be a non-empty list of distinct names, got {list(columns)}")
        absent = [c for c in (*columns, *([group] if group else [])) if c not in table.column_names]
        if absent:
            raise ValueError(f"table has no column(s) {absent}")
        if group in columns:
            raise ValueError(f"group column {group!r} cannot also be an encoded column")
        self._group, self._group_type, self._group_values = group, None, ()
        gidx = np.zeros(table.num_rows, dtype=np.int64)
        if group is not None:
            check_type(group, table[group].type)
            if pa.types.is_floating(plain_array(table[group]).type):
                raise ValueError(f"group column {group!r} must be categorical, not {table[group].type}")
            self._group_type = plain_array(table[group]).type
            seen = pc.unique(plain_array(table[group])).to_pylist()
            self._group_values = tuple(sorted(seen, key=lambda v: (v is None, v)))
            gidx = lookup_codes(plain_array(table[group]), self._group_values, self._group_type)
        n_groups = max(len(self._group_values), 1)
        rows = np.bincount(gidx, minlength=n_groups)
        specs, structural = [], np.zeros((n_groups, len(columns)), dtype=bool)
        for j, name in enumerate(columns):
            missing = missing_mask(table[name])
            if group is not None:
                structural[:, j] = np.bincount(gidx, weights=missing, minlength=n_groups) == rows
            loose = bool((missing & ~structural[gidx, j]).any())
            seed = int(np.random.SeedSequence([self.seed, j]).generate_state(1)[0])
            specs.append(self._fit_column(name, table[name], missing, loose, seed))
        self._specs, self._columns, self._structural = tuple(specs), columns, structural
        self._layout()
        return self

    def _fit_column(self, name: str, col: pa.ChunkedArray, missing: np.ndarray, loose: bool, seed: int) -> Spec:
        check_type(name, col.type)
        plain_type = plain_array(col).type
        nan = pa.types.is_floating(plain_type) and col.null_count == 0
        dictionary = None
        if pa.types.is_dictionary(col.type):
            chunks = col.unify_dictionaries().chunks if isinstance(col, pa.ChunkedArray) else [col]
            dictionary = tuple(chunks[0].dictionary.to_pylist()) if chunks else ()
        if dictionary is not None or not (pa.types.is_integer(plain_type) or pa.types.is_floating(plain_type)):
            present = set(pc.unique(plain_array(col).filter(pa.array(~missing))).to_pylist())
            order = dictionary if dictionary is not None else sorted(present)
            cats = tuple(v for v in order if v in present)
            return Categorical(name, col.type, cats, loose or not cats, nan, dictionary)
        x = float_values(col)[~missing]
        if not np.isfinite(x).all():
            raise ValueError(f"column {name!r} holds infinite values; the encoder needs finite numbers or NaN")
        uniq, counts = np.unique(x, return_counts=True)
        points = uniq[counts >= self.point_mass * x.size]
        if uniq.size <= self.discrete_max or points.size == uniq.size:
            cats = tuple((uniq.astype(np.int64) if pa.types.is_integer(plain_type) else uniq).tolist())
            return Categorical(name, col.type, cats, loose or not cats, nan, None)
        rest = x[~np.isin(x, points)]
        log = bool(rest.min() >= 0 and skew(rest) > SKEW and abs(skew(np.log1p(rest))) < skew(rest))
        means, stds, weights = mixture(np.log1p(rest) if log else rest, self.max_modes, seed)
        low, high = float(x.min()), float(x.max())
        return Continuous(name, col.type, tuple(points.tolist()), means, stds, weights, log, low, high, loose, nan)

    def _layout(self) -> None:
        spans, offsets, start = [], [], 0
        for spec in self._specs:
            offsets.append(start)
            if isinstance(spec, Continuous):
                spans.append(Span(spec.name, VALUE, start, start + 1))
                spans.append(Span(spec.name, CHOICE, start + 1, start + spec.width))
            else:
                spans.append(Span(spec.name, CHOICE, start, start + spec.width))
            start += spec.width
        self._spans, self._offsets, self._dim = tuple(spans), tuple(offsets), start
        self._group_masks = np.ones((self._structural.shape[0], start), dtype=np.float32)
        for j, spec in enumerate(self._specs):
            self._group_masks[self._structural[:, j], offsets[j] : offsets[j] + spec.width] = 0.0

    # ----- properties

    def _fitted(self) -> tuple[Spec, ...]:
        if self._specs is None:
            raise ValueError("the TableEncoder is not fitted; call fit() first")
        return self._specs

    @property
    def dim(self) -> int:
        """Width of the encoded vector."""
        self._fitted()
        return self._dim

    @property
    def spans(self) -> tuple[Span, ...]:
        """The encoded vector's spans, in order."""
        self._fitted()
        return self._spans

    @property
    def columns(self) -> tuple[str, ...]:
        """Encoded columns in fit order."""
        self._fitted()
        return self._columns

    @property
    def group(self) -> str | None:
        """The group column that decides structural missingness, if any."""
        self._fitted()
        return self._group

    @property
    def group_values(self) -> tuple[Any, ...]:
        """The group column's values seen in fit, in code order (empty without a group)."""
        self._fitted()
        return self._group_values

    def group_codes(self, groups: Any) -> np.ndarray:
        """Code of each group value (its position in `group_values`); ValueError for a value unseen in fit."""
        self._fitted()
        return self._group_index(groups)

    def in_mode(self, data: np.ndarray, column: str) -> np.ndarray:
        """Rows of encoded `data` whose continuous `column` holds a value of a mixture mode (not a point mass, not
        missing, not structurally absent)."""
        spec = self._spec(column)
        if not isinstance(spec, Continuous):
            raise ValueError(f"column {column!r} is categorical, not continuous")
        start = self._offsets[self._columns.index(column)] + 1 + len(spec.points)
        return np.asarray(data)[:, start : start + len(spec.means)].sum(axis=1) > 0

    def categories(self, column: str) -> tuple[Any, ...]:
        """Categories of a categorical column in code order; None stands for the missing category."""
        spec = self._spec(column)
        if not isinstance(spec, Categorical):
            raise ValueError(f"column {column!r} is continuous, not categorical")
        return spec.categories + ((None,) if spec.missing else ())

    def category_index(self, column: str, value: Any) -> int:
        """Code of `value` in categorical `column` (None/NaN = missing); ValueError for a value unseen in fit."""
        spec = self._spec(column)
        if not isinstance(spec, Categorical):
            raise ValueError(f"column {column!r} is continuous, not categorical")
        plain = spec.type.value_type if pa.types.is_dictionary(spec.type) else spec.type
        if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
            if spec.missing:
                return len(spec.categories)
        elif isinstance(value, bool | np.bool_) == pa.types.is_boolean(plain) and isinstance(value, str) == (
            pa.types.is_string(plain) or pa.types.is_large_string(plain)
        ):
            for code, cat in enumerate(spec.categories):
                if cat == value:
                    return code
        raise ValueError(f"{column}={value!r} was not seen in training; known values: {list(self.categories(column))}")

    def _spec(self, column: str) -> Spec:
        for spec in self._fitted():
            if spec.name == column:
                return spec
        raise ValueError(f"unknown column {column!r}; encoded columns are {list(self._columns)}")

    # ----- groups

    def _group_index(self, groups: Any) -> np.ndarray:
        if self._group is None:
            raise ValueError("this encoder was fitted without a group column; pass groups=None")
        if groups is None:
            raise ValueError(f"groups (values of {self._group!r}) are required: the encoder was fitted with a group")
        values = plain_array(as_arrow(groups))
        try:
            values = values.cast(self._group_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise ValueError(f"groups cannot be read as {self._group_type} values of {self._group!r}") from None
        idx = lookup_codes(values, self._group_values, self._group_type)
        if (idx < 0).any():
            unseen = sorted({str(v) for v in values.filter(pa.array(idx < 0)).to_pylist()})
            raise ValueError(f"{self._group} value(s) {unseen} not seen in fit; known: {list(self._group_values)}")
        return idx

    def _structural_rows(self, groups: Any, n: int) -> np.ndarray:
        if self._group is None:
            if groups is not None:
                raise ValueError("this encoder was fitted without a group column; pass groups=None")
            return np.zeros((n, len(self._specs)), dtype=bool)
        idx = self._group_index(groups)
        if idx.size != n:
            raise ValueError(f"got {idx.size} group values for {n} rows")
        return self._structural[idx]

    def mask(self, groups: Any) -> np.ndarray:
        """(n, dim) float32: 0 on the dims of columns structurally missing in each row's group, else 1."""
        self._fitted()
        if self._group is None:
            return np.ones((len(groups), self._dim), dtype=np.float32)
        return self._group_masks[self._group_index(groups)]

    # ----- transform

    def transform(self, table: pa.Table, dtype: Any = np.float32) -> np.ndarray:
        """Encode `table` (holding the fitted columns and, if any, the group column) as an (n, dim) array."""
        specs = self._fitted()
        need = [*self._columns, *([self._group] if self._group else [])]
        absent = [c for c in need if c not in table.column_names]
        if absent:
            raise ValueError(f"table has no column(s) {absent}")
        n = table.num_rows
        structural = self._structural_rows(table[self._group] if self._group else None, n)
        out = np.zeros((n, self._dim), dtype=dtype)
        for j, spec in enumerate(specs):
            col, start, keep = table[spec.name], self._offsets[j], ~structural[:, j]
            missing = missing_mask(col)
            if isinstance(spec, Categorical):
                code = self._category_codes(spec, col, missing)
            else:
                code, alpha = self._mode_codes(spec, float_values(col), missing)
                out[keep, start] = alpha[keep]
                start += 1
            bad = keep & (code < 0)
            if bad.any():
                if missing[bad].any():
                    raise ValueError(f"column {spec.name!r} has missing values where the fitted data had none")
                value = col.take(pa.array(np.flatnonzero(bad)[:1]))[0].as_py()
                raise ValueError(f"column {spec.name!r}: value {value!r} was not seen in fit")
            rows = np.flatnonzero(keep)
            out[rows, start + code[rows]] = 1
        return out

    def _category_codes(self, spec: Categorical, col: pa.ChunkedArray, missing: np.ndarray) -> np.ndarray:
        plain = plain_array(col)
        if spec.dictionary is None and (pa.types.is_integer(plain.type) or pa.types.is_floating(plain.type)):
            cats = np.asarray(spec.categories, dtype=np.float64)
            v = float_values(col)
            if cats.size:
                hi = np.clip(np.searchsorted(cats, v), 0, cats.size - 1)
                lo = np.clip(hi - 1, 0, cats.size - 1)
                code = np.where(np.abs(v - cats[lo]) <= np.abs(cats[hi] - v), lo, hi)  # nearest for unseen numbers
            else:
                code = np.full(v.size, -1, dtype=np.int64)
        else:
            code = lookup_codes(plain, spec.categories, plain.type)
        return np.where(missing, len(spec.categories) if spec.missing else -1, code)

    @staticmethod
    def _mode_codes(spec: Continuous, v: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        code, alpha = np.full(v.size, -1, dtype=np.int64), np.zeros(v.size)
        present = ~missing
        for k, point in enumerate(spec.points):
            code[present & (v == point)] = k
        rest = np.flatnonzero(present & (code < 0))
        y = np.log1p(np.maximum(v[rest], 0.0)) if spec.log else v[rest]
        mu, sd = np.asarray(spec.means), np.asarray(spec.stds)
        logp = np.log(spec.weights) - np.log(sd) - 0.5 * ((y[:, None] - mu) / sd) ** 2
        k = np.argmax(logp, axis=1)
        code[rest] = len(spec.points) + k
        alpha[rest] = (y - mu[k]) / (4 * sd[k])
        code[missing] = spec.width - 2 if spec.missing else -1
        return code, alpha

    # ----- inverse

    def inverse_transform(self, data: np.ndarray, groups: Any = None) -> pa.Table:
        """Decode an (n, dim) array (argmax per choice span) into a table of the fitted columns and dtypes."""
        specs = self._fitted()
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[1] != self._dim:
            raise ValueError(f"expected an array of shape (n, {self._dim}), got {data.shape}")
        structural = self._structural_rows(groups, data.shape[0])
        arrays = []
        for j, spec in enumerate(specs):
            start = self._offsets[j]
            if isinstance(spec, Categorical):
                code = np.argmax(data[:, start : start + spec.width], axis=1)
                missing = structural[:, j] | (code == len(spec.categories))
                arrays.append(self._categorical_array(spec, code, missing))
            else:
                code = np.argmax(data[:, start + 1 : start + spec.width], axis=1)
                arrays.append(self._continuous_array(spec, data[:, start].astype(np.float64), code, structural[:, j]))
        return pa.table(arrays, names=list(self._columns))

    @staticmethod
    def _categorical_array(spec: Categorical, code: np.ndarray, missing: np.ndarray) -> pa.Array:
        safe = np.where(missing, 0, code)
        mask = missing if missing.any() else None
        if spec.dictionary is not None:
            position = {v: i for i, v in enumerate(spec.dictionary)}
            lookup = np.array([position[v] for v in spec.categories] or [0], dtype=np.int64)
            indices = pa.array(lookup[safe].astype(spec.type.index_type.to_pandas_dtype()), mask=mask)
            dictionary = pa.array(list(spec.dictionary), type=spec.type.value_type)
            return pa.DictionaryArray.from_arrays(indices, dictionary, ordered=spec.type.ordered)
        if pa.types.is_integer(spec.type) or pa.types.is_floating(spec.type) or pa.types.is_boolean(spec.type):
            values = np.asarray(spec.categories or (0,), dtype=spec.type.to_pandas_dtype())[safe]
        else:
            values = np.asarray(spec.categories or (None,), dtype=object)[safe]
        if spec.nan and missing.any():
            values[missing] = np.nan
            mask = None
        return pa.array(values, type=spec.type, mask=mask)

    @staticmethod
    def _continuous_array(spec: Continuous, alpha: np.ndarray, code: np.ndarray, structural: np.ndarray) -> pa.Array:
        n_points, n_modes = len(spec.points), len(spec.means)
        mode = np.clip(code - n_points, 0, n_modes - 1)
        y = alpha * 4 * np.asarray(spec.stds)[mode] + np.asarray(spec.means)[mode]
        x = np.clip(np.expm1(y) if spec.log else y, spec.low, spec.high)
        is_point = code < n_points
        x[is_point] = np.asarray((*spec.points, 0.0))[np.minimum(code[is_point], n_points)]
        missing = structural | (code >= n_points + n_modes)
        if pa.types.is_integer(spec.type):
            x = np.rint(np.where(missing, 0, x))
        if spec.nan:
            x[missing] = np.nan
        mask = missing if missing.any() and not spec.nan else None
        return pa.array(x.astype(spec.type.to_pandas_dtype()), type=spec.type, mask=mask)

    # ----- persistence

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description from which `from_dict` rebuilds the fitted encoder exactly."""
        specs = self._fitted()
        group = None
        if self._group is not None:
            group = {
                "name": self._group,
                "type": type_to_json(self._group_type),
                "values": list(self._group_values),
                "structural": [[c for c, s in zip(self._columns, row, strict=True) if s] for row in self._structural],
            }
        params = {"max_modes": self.max_modes, "discrete_max": self.discrete_max, "point_mass": self.point_mass}
        return {"version": 1, "params": {**params, "seed": self.seed}, "group": group,
                "columns": [spec_to_json(s) for s in specs]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableEncoder:
        """Rebuild an encoder from `to_dict` output."""
        if data.get("version") != 1:
            raise ValueError(f"unsupported TableEncoder description version {data.get('version')!r}")
        enc = cls(**data["params"])
        enc._specs = tuple(spec_from_json(d) for d in data["columns"])
        enc._columns = tuple(s.name for s in enc._specs)
        group = data["group"]
        enc._group, enc._group_type, enc._group_values = None, None, ()
        enc._structural = np.zeros((1, len(enc._specs)), dtype=bool)
        if group is not None:
            enc._group, enc._group_type = group["name"], type_from_json(group["type"])
            enc._group_values = tuple(group["values"])
            enc._structural = np.array([[c in set(row) for c in enc._columns] for row in group["structural"]], bool)
            enc._structural = enc._structural.reshape(len(enc._group_values), len(enc._specs))
        enc._layout()
        return enc
