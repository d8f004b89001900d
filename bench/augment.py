"""Conditional GANs for defect rows: shopfloor's ``ConditionalGAN`` against CTGAN, side by side in one run.

Both generators are fitted on the same rows with the same number of epochs: the training replications of the
``full`` split (``scenarios.augment_data.full_split``) of an ``electronics_line`` dataset, at its quality stations
(printer, placement, reflow), cut to ``--rows`` rows; the held-out replications (the split's last fifth) score them.
The columns are ``defect`` plus the dataset card's feature columns (``scenarios.augment.gan_table``). shopfloor's GAN
conditions on defect, station and product as ``shopfloor augment`` does; CTGAN gets the categorical, boolean and
few-valued (at most 16 values) numeric columns as ``discrete_columns``, as shopfloor's encoder treats them.

Measured, one row per measure, columns shopfloor / CTGAN / CTGAN ÷ shopfloor / real or oracle (a reference):

- **Training speed**: seconds per epoch of training (shopfloor: its epoch log; CTGAN: (fit time − its data
  transformer's fit and transform) ÷ epochs); the transformer's time, paid once per fit; fit wall time in all; the
  time projected for each model's default budget (shopfloor: its ``target_steps``; CTGAN: 300 epochs). Batches
  differ (shopfloor 1000 rows, CTGAN 500), so an epoch is one pass over the rows for both.
- **Conditional exactness**: share of ``--samples`` rows sampled on ``defect = True`` that have it, and likewise for
  ``station = s`` for each station. CTGAN's condition only raises the odds; shopfloor copies it into the rows.
- **Fidelity on defect rows** (``surrogates.fidelity``): ``--fidelity-rows`` synthetic defect rows against the real
  defect rows of the held-out replications: KS and TV complements, correlation score, two-sample AUC (0.5 is
  ideal). CTGAN's defect rows are drawn by rejection (conditioned samples kept where ``defect`` is True). The
  reference compares the training defect rows with the held-out ones: what a perfect generator would score.
  Also the share of synthetic defect rows whose missing columns are those the real rows of their station miss.
- **Utility**: AUPRC, on the held-out fault-free rows, of the strong classifier (gradient boosting, fixed iterations)
  trained on the real training rows plus synthetic positives up to 20 % of the negatives, probabilities put back
  on the real prior; ``none`` = no augmentation, ``oracle`` = the simulator's true probability (the ceiling).

CTGAN 0.12 rejects missing values in continuous columns, and the process parameters are missing by design at the
stations that do not measure them: each such column's NaN become a sentinel below its range (its minimum minus its
range) before CTGAN sees it, and generated values below the midpoint between sentinel and minimum become NaN again.

Both run on the CPU, one after the other (shopfloor first), with ``--threads`` threads (default 1) for torch and
for the BLAS / OpenMP pools: on a busy 2-core machine two torch threads spin-wait on each other and an epoch took
17 times as long as with one (measured for shopfloor's GAN on 10 000 rows, load average ~3). The load average
before and after each is printed, since the machine is shared and noisy. Seeded (``--seed``): the data, both
models, their samples and the classifiers; a rerun gives the same numbers except the times.

    python bench/augment.py [--rows N] [--epochs E] [--data DIR] [--seed S] [--threads T] [--no-utility]
                            [--json out.json]

``--rows`` (default 200 000) is the number of training rows at the quality stations; a dataset about 2.4 times as
large (all stations, held-out replications included) is generated into a temporary folder unless ``--data`` names
a dataset folder to reuse (``shopfloor generate electronics_line``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from threadpoolctl import threadpool_limits

import scenarios
from scenarios.augment import epoch_printer, fit_gan, gan_table, new_gan, sample_positives, share_met
from scenarios.augment_data import Task, fault_free_rows, full_split, load_operations, scenario_of, task_rows
from scenarios.defect_model import true_probability
from sim.dataset import generate
from sim.spec import Scenario
from surrogates.balancing import as_is, conform, positives_needed, prior_corrected, with_synthetic
from surrogates.classifiers import DefectClassifier
from surrogates.features import category_values, is_categorical, numeric_values
from surrogates.fidelity import fidelity
from surrogates.gan import ConditionalGAN
from surrogates.utility import average_precision

SCENARIO = "electronics_line"
CTGAN_BATCH = 500
CTGAN_DEFAULT_EPOCHS = 300  # ctgan.CTGAN's default
RATIO = 0.2  # synthetic positives up to this share of the negatives
DISCRETE_MAX = 16  # a numeric column with at most this many values is a discrete column for CTGAN (and for ours)
# total operation rows generated per training row at the quality stations: they hold ~58 % of the operations and
# the training replications ~80 % of those; 10 % spare so that --rows is reached, plus about four replications
# (~15 000 operations each) so that even a small run holds out more than one replication
ROWS_PER_TRAINING_ROW = 2.35
SPARE_ROWS = 60_000

_T0 = time.perf_counter()


def say(text: str) -> None:
    """A progress line: elapsed seconds, load average, text."""
    load = os.getloadavg()[0]
    print(f"[{time.perf_counter() - _T0:7.1f} s | load {load:4.2f}] {text}", file=sys.stderr, flush=True)


# ----- data


def load_data(args: argparse.Namespace, scratch: Path) -> tuple[Scenario, Task, pa.Table, pa.Table]:
    """(scenario, task, training rows cut to --rows, held-out rows) at the quality stations."""
    if args.data:
        folder = Path(args.data)
        card, table = load_operations(folder)
        scenario = scenario_of(card, folder)
        say(f"dataset {folder}: {card.rows['operations']:,} operation rows, {card.replications} replications")
    else:
        scenario = scenarios.load(SCENARIO)
        total = math.ceil(args.rows * ROWS_PER_TRAINING_ROW) + SPARE_ROWS
        say(f"generating {total:,} operation rows of {SCENARIO} (seed {args.seed}) into {scratch}")
        started = time.perf_counter()
        card = generate(scenario, total, scratch / "data", seed=args.seed, workers=args.workers, command="bench")
        say(f"generated {card.replications} replications in {time.perf_counter() - started:.0f} s")
        card, table = load_operations(scratch / "data")
    task, rows = task_rows(scenario, table, card)
    split = full_split(task, rows, args.seed)
    train = split.train
    if train.num_rows > args.rows:
        train = train.slice(0, args.rows)
    elif train.num_rows < args.rows:
        say(f"note: only {train.num_rows:,} training rows at the quality stations (asked for {args.rows:,})")
    return scenario, task, train, split.validation


# ----- CTGAN's side: pandas in, Arrow out


class Sentinels:
    """NaN in float columns <-> a value below the column's range (CTGAN takes no NaN in continuous columns)."""

    def __init__(self, frame: pd.DataFrame, discrete: list[str]):
        self.fill: dict[str, tuple[float, float]] = {}
        for name in frame.columns:
            values = frame[name]
            if name in discrete or not pd.api.types.is_float_dtype(values) or not values.isna().any():
                continue
            low, high = float(values.min()), float(values.max())
            span = high - low if high > low else 1.0
            self.fill[name] = (low - span, low - span / 2)  # sentinel, threshold back to NaN

    def encode(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{c: frame[c].fillna(s) for c, (s, _) in self.fill.items()})

    def decode(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{c: frame[c].mask(frame[c] < t) for c, (_, t) in self.fill.items()})


def to_pandas(table: pa.Table) -> tuple[pd.DataFrame, list[str]]:
    """The table as CTGAN takes it (categories as strings) and its discrete columns: categories, booleans and
    numbers with at most ``DISCRETE_MAX`` distinct values (as shopfloor's encoder treats them)."""
    frame = pd.DataFrame(
        {
            f.name: category_values(table.column(f.name)) if is_categorical(f.type) else table.column(f.name).to_numpy()
            for f in table.schema
        }
    )
    discrete = []
    for field in table.schema:
        kind = field.type
        few = frame[field.name].nunique() <= DISCRETE_MAX
        if is_categorical(kind) or pa.types.is_boolean(kind) or few:
            discrete.append(field.name)
    return frame, discrete


def to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """CTGAN's rows in the real table's schema (dictionary columns, integer widths)."""
    columns = [c for c in schema.names if c in frame.columns]
    arrays = {c: pa.array(frame[c].tolist() if frame[c].dtype == object else frame[c].to_numpy()) for c in columns}
    return conform(pa.table(arrays), pa.schema([schema.field(c) for c in columns]))


@contextlib.contextmanager
def timed_transformer() -> Iterator[dict[str, float]]:
    """CTGAN's DataTransformer, wrapped while the block runs so that its fit and transform are timed."""
    import ctgan.synthesizers.ctgan as module

    seconds = {"fit": 0.0, "transform": 0.0}

    class Timed(module.DataTransformer):
        def fit(self, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return super().fit(*args, **kwargs)
            finally:
                seconds["fit"] += time.perf_counter() - started

        def transform(self, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return super().transform(*args, **kwargs)
            finally:
                seconds["transform"] += time.perf_counter() - started

    with mock.patch.object(module, "DataTransformer", Timed):
        yield seconds


class CTGANSide:
    """A fitted CTGAN with the conversions around it."""

    def __init__(self, data: pa.Table, epochs: int, seed: int):
        from ctgan import CTGAN

        self.schema = data.schema
        frame, self.discrete = to_pandas(data)
        self.sentinels = Sentinels(frame, self.discrete)
        self.frame = self.sentinels.encode(frame)
        self.model = CTGAN(epochs=epochs, batch_size=CTGAN_BATCH, enable_gpu=False)
        self.model.set_random_state(seed)

    def fit(self) -> dict[str, float]:
        with timed_transformer() as seconds:
            started = time.perf_counter()
            self.model.fit(self.frame, discrete_columns=self.discrete)
            total = time.perf_counter() - started
        return {"fit": total, "transformer_fit": seconds["fit"], "transformer_transform": seconds["transform"]}

    def sample(self, n: int, column: str | None = None, value: Any = None) -> pa.Table:
        frame = self.model.sample(n, condition_column=column, condition_value=value)
        return to_arrow(self.sentinels.decode(frame), self.schema)

    def positives(self, n: int) -> tuple[pa.Table, int]:
        """``n`` rows with defect True, by rejection from rows sampled on defect = True; and the rows drawn."""
        parts, kept, drawn = [], 0, 0
        share = 1.0
        while kept < n:
            ask = max(1000, math.ceil((n - kept) / max(share, 0.02) * 1.1))
            rows = self.sample(ask, "defect", True)
            drawn += rows.num_rows
            good = rows.filter(rows.column("defect"))
            parts.append(good)
            kept += good.num_rows
            share = kept / drawn
            if drawn > 100 * n + 10_000:
                raise RuntimeError(f"CTGAN: {kept} defect rows in {drawn} drawn on defect = True")
        return pa.concat_tables(parts).slice(0, n), drawn


# ----- measures


def exactness_ours(gan: ConditionalGAN, stations: list[str], n: int, seed: int) -> dict[str, float]:
    out = {}
    for k, (column, value) in enumerate([("defect", True), *(("station", s) for s in stations)]):
        rows = gan.sample(n, condition={column: value}, seed=seed + 100 + k)
        out[f"{column}={value}"] = share_met(rows, {column: value})
    return out


def exactness_ctgan(side: CTGANSide, stations: list[str], n: int) -> dict[str, float]:
    out = {}
    for column, value in [("defect", True), *(("station", s) for s in stations)]:
        rows = side.sample(n, column, value)
        out[f"{column}={value}"] = share_met(rows, {column: value})
    return out


def missingness_kept(real: pa.Table, synth: pa.Table, group: str = "station") -> float:
    """Share of synthetic rows missing exactly the numeric columns that the real rows of their station always miss
    (and observing those the real rows always observe; columns sometimes missing there are not checked)."""
    real_group, synth_group = category_values(real.column(group)), category_values(synth.column(group))
    kept = np.ones(synth.num_rows, dtype=bool)
    for field in real.schema:
        if is_categorical(field.type) or pa.types.is_boolean(field.type):
            continue
        r, x = numeric_values(real.column(field.name)), numeric_values(synth.column(field.name))
        for value in np.unique(real_group):
            missing = np.isnan(r[real_group == value])
            rows = synth_group == value
            if missing.all() or not missing.any():
                kept[rows] &= np.isnan(x[rows]) == missing.all()
    return float(kept.mean())


def fidelity_numbers(real: pa.Table, synth: pa.Table, features: list[str], seed: int) -> dict[str, Any]:
    report = fidelity(real, synth, features, seed=seed).to_dict()
    return {
        "ks_complement": report["ks_complement"],
        "tv_complement": report["tv_complement"],
        "correlation": report["correlation"]["score"],
        "two_sample_auc": report["two_sample"]["auc"],
        "columns": {c["column"]: c["score"] for c in report["columns"]},
    }


def utility(
    task: Task,
    train: pa.Table,
    test: pa.Table,
    scenario: Scenario,
    generators: dict[str, Callable[[int], pa.Table]],
    seed: int,
) -> dict[str, float]:
    """AUPRC on the test rows: no augmentation, each generator's positives, the oracle."""
    features = list(task.features)
    table, y = train.select(features), task.target(train)
    x_test, y_test = test.select(features), task.target(test)
    needed = positives_needed(y, RATIO)
    out = {"oracle": average_precision(y_test, true_probability(scenario, test))}
    arms = {"none": lambda: as_is(table, y)} | {
        name: (lambda make=make: with_synthetic(table, y, make(needed))) for name, make in generators.items()
    }
    for name, arm in arms.items():
        added = "no augmentation" if name == "none" else f"{name} ({needed:,} synthetic positives)"
        say(f"utility: strong classifier, {added}")
        training = arm()
        model = DefectClassifier("strong", features, seed).fit(training.table, training.y, training.weight)
        p = prior_corrected(model.predict_proba(x_test), training.odds_factor)
        out[name] = average_precision(y_test, p)
    out["positives_added"] = needed
    return out


# ----- output


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or not (math.isfinite(ours) and math.isfinite(theirs)) or ours == 0:
        return None
    return theirs / ours


def rows_of(result: dict[str, Any]) -> list[tuple[str, Any, Any, Any, str]]:
    """(measure, shopfloor, CTGAN, reference, goal) per printed row."""
    ours, theirs = result["shopfloor"], result["ctgan"]
    out: list[tuple[str, Any, Any, Any, str]] = [
        ("training rows", result["rows"], result["rows"], None, ""),
        ("epochs", result["epochs"], result["epochs"], None, ""),
        ("batch size (rows)", ours["batch_size"], theirs["batch_size"], None, ""),
        ("steps per epoch", ours["steps_per_epoch"], theirs["steps_per_epoch"], None, ""),
        ("s per epoch (training)", ours["seconds_per_epoch"], theirs["seconds_per_epoch"], None, "lower"),
        ("s per step", ours["seconds_per_step"], theirs["seconds_per_step"], None, "lower"),
        ("s preprocessing (encoder / transformer)", ours["preprocessing_s"], theirs["preprocessing_s"], None, "lower"),
        ("fit wall time s", ours["fit_s"], theirs["fit_s"], None, "lower"),
        ("fit s ÷ epochs", ours["fit_s"] / result["epochs"], theirs["fit_s"] / result["epochs"], None, "lower"),
        ("default budget: epochs", ours["default_epochs"], theirs["default_epochs"], None, ""),
        ("default budget: projected fit s", ours["projected_default_s"], theirs["projected_default_s"], None, "lower"),
    ]
    for key in ours["exactness"]:
        out.append((f"exactness: {key}", ours["exactness"][key], theirs["exactness"][key], None, "= 1"))
    out.append(("defect-row sampling s", ours["positives_s"], theirs["positives_s"], None, "lower"))
    out.append(("CTGAN rows drawn per defect row kept", 1.0, theirs["drawn_per_positive"], None, "= 1"))
    out.append(
        (
            "missingness as at the row's station",
            ours["missingness_kept"],
            theirs["missingness_kept"],
            result["missingness_reference"],
            "= 1",
        )
    )
    reference = result["fidelity_reference"]
    for key, goal in (
        ("ks_complement", "higher"),
        ("tv_complement", "higher"),
        ("correlation", "higher"),
        ("two_sample_auc", "→ 0.5"),
    ):
        out.append((f"fidelity: {key}", ours["fidelity"][key], theirs["fidelity"][key], reference[key], goal))
    if result.get("utility"):
        u = result["utility"]
        out.append(("utility: AUPRC, real + synthetic", u["shopfloor"], u["ctgan"], u["oracle"], "higher"))
        out.append(("utility: AUPRC, no augmentation", u["none"], u["none"], u["oracle"], "higher"))
        out.append(("utility: AUPRC − none", u["shopfloor"] - u["none"], u["ctgan"] - u["none"], None, "higher"))
    return out


def text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    value = float(value)
    if not math.isfinite(value):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    title = (
        f"shopfloor ConditionalGAN vs CTGAN {result['versions']['ctgan']}: {result['rows']:,} rows, "
        f"{result['epochs']} epochs, seed {result['seed']}, torch {result['torch_threads']} threads"
    )
    table = Table(title=title)
    for name, justify in (
        ("measure", "left"),
        ("shopfloor", "right"),
        ("CTGAN", "right"),
        ("CTGAN ÷ shopfloor", "right"),
        ("real / oracle", "right"),
        ("goal", "left"),
    ):
        table.add_column(name, justify=justify)
    for measure, ours, theirs, reference, goal in rows_of(result):
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (ours, theirs))
        r = ratio(float(ours), float(theirs)) if numeric and "−" not in measure else None
        table.add_row(measure, text(ours), text(theirs), "" if r is None else f"{r:.2f}", text(reference), goal)
    Console(width=120).print(table)
    load = result["load_average"]
    print(
        "load average (1 min): "
        + ", ".join(f"{k} {v:.2f}" for k, v in load.items())
        + f"; {os.cpu_count()} cores — the machine is shared, other processes may have run alongside"
    )


# ----- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="training rows at the quality stations")
    parser.add_argument("--epochs", type=int, default=5, help="epochs, the same for both")
    parser.add_argument("--data", help="a dataset folder to reuse instead of generating one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=1000, help="rows sampled per exactness condition")
    parser.add_argument("--fidelity-rows", type=int, default=5000, help="synthetic defect rows for fidelity")
    parser.add_argument("--no-utility", action="store_true", help="skip the classifier utility check")
    parser.add_argument("--workers", type=int, default=None, help="simulation workers (default: all cores)")
    parser.add_argument("--threads", type=int, default=1, help="torch, BLAS and OpenMP threads (default 1)")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args()
    if args.rows < 1000 or args.epochs < 1 or args.threads < 1:
        parser.error("--rows must be >= 1000, --epochs and --threads >= 1")
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    import ctgan

    load: dict[str, float] = {"start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-augment-") as scratch:
        scenario, task, train, held_out = load_data(args, Path(scratch))
    features = list(task.features)
    stations = list(task.stations)
    data = gan_table(task, train, "defect")
    y = task.target(train)
    say(f"{train.num_rows:,} training rows ({int(y.sum()):,} defects), {held_out.num_rows:,} held-out rows")

    # shopfloor
    load["before shopfloor"] = os.getloadavg()[0]
    say(f"shopfloor ConditionalGAN: {args.epochs} epochs")
    gan = new_gan(args.seed, "cpu", args.epochs)
    started = time.perf_counter()
    fit_gan(gan, task, train, "defect", progress=epoch_printer(lambda line: say(f"  shopfloor {line}")))
    ours_fit = time.perf_counter() - started
    load["after shopfloor"] = os.getloadavg()[0]
    epoch_s = float(np.mean([log.seconds for log in gan.history]))
    ours_steps = max(train.num_rows // gan.batch_size, 1)
    ours_pre = ours_fit - sum(log.seconds for log in gan.history)
    default_epochs = max(1, math.ceil(gan.target_steps * gan.batch_size / train.num_rows))

    # CTGAN
    say(f"CTGAN: {args.epochs} epochs (converting to pandas)")
    side = CTGANSide(data, args.epochs, args.seed)
    say(f"CTGAN: discrete columns {side.discrete}; sentinels for {sorted(side.sentinels.fill)}")
    load["before CTGAN"] = os.getloadavg()[0]
    times = side.fit()
    load["after CTGAN"] = os.getloadavg()[0]
    their_pre = times["transformer_fit"] + times["transformer_transform"]
    their_epoch = (times["fit"] - their_pre) / args.epochs
    their_steps = max(train.num_rows // CTGAN_BATCH, 1)
    say(f"CTGAN: fit {times['fit']:.1f} s (transformer {their_pre:.1f} s), {their_epoch:.1f} s per epoch")

    say("conditional exactness")
    ours_exact = exactness_ours(gan, stations, args.samples, args.seed)
    their_exact = exactness_ctgan(side, stations, args.samples)

    say(f"fidelity on defect rows ({args.fidelity_rows:,} synthetic rows each)")
    real_pos = held_out.filter(pa.array(task.target(held_out))).select(features)
    started = time.perf_counter()
    ours_pos = sample_positives(gan, task, args.fidelity_rows, seed=args.seed + 1)
    ours_pos_s = time.perf_counter() - started
    started = time.perf_counter()
    their_pos, drawn = side.positives(args.fidelity_rows)
    their_pos_s = time.perf_counter() - started
    their_pos = their_pos.select(features)
    train_features = train.select(features)
    train_pos = train_features.filter(pa.array(y))
    result: dict[str, Any] = {
        "rows": train.num_rows,
        "training_defects": int(y.sum()),
        "held_out_rows": held_out.num_rows,
        "held_out_defects": real_pos.num_rows,
        "epochs": args.epochs,
        "seed": args.seed,
        "data": args.data,
        "torch_threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "versions": {"ctgan": ctgan.__version__, "torch": torch.__version__},
        "shopfloor": {
            "batch_size": gan.batch_size,
            "steps_per_epoch": ours_steps,
            "seconds_per_epoch": epoch_s,
            "epoch_seconds": [log.seconds for log in gan.history],
            "seconds_per_step": epoch_s / ours_steps,
            "preprocessing_s": ours_pre,
            "fit_s": ours_fit,
            "default_epochs": default_epochs,
            "projected_default_s": ours_pre + default_epochs * epoch_s,
            "exactness": ours_exact,
            "positives_s": ours_pos_s,
            "fidelity": fidelity_numbers(real_pos, ours_pos, features, args.seed),
            "missingness_kept": missingness_kept(train_features, ours_pos),
        },
        "ctgan": {
            "batch_size": CTGAN_BATCH,
            "steps_per_epoch": their_steps,
            "seconds_per_epoch": their_epoch,
            "seconds_per_step": their_epoch / their_steps,
            "preprocessing_s": their_pre,
            "transformer": {k: v for k, v in times.items() if k != "fit"},
            "fit_s": times["fit"],
            "default_epochs": CTGAN_DEFAULT_EPOCHS,
            "projected_default_s": their_pre + CTGAN_DEFAULT_EPOCHS * their_epoch,
            "discrete_columns": side.discrete,
            "sentinel_columns": sorted(side.sentinels.fill),
            "exactness": their_exact,
            "positives_s": their_pos_s,
            "drawn_per_positive": drawn / args.fidelity_rows,
            "fidelity": fidelity_numbers(real_pos, their_pos, features, args.seed),
            "missingness_kept": missingness_kept(train_features, their_pos),
        },
        "missingness_reference": missingness_kept(train_features, real_pos),
        "fidelity_reference": fidelity_numbers(real_pos, train_pos, features, args.seed),
    }
    if not args.no_utility:
        test = fault_free_rows(held_out)
        generators = {
            "shopfloor": lambda n: sample_positives(gan, task, n, seed=args.seed + 2),
            "ctgan": lambda n: side.positives(n)[0].select(features),
        }
        result["utility"] = utility(task, train, test, scenario, generators, args.seed)
        result["utility"]["test_rows"] = test.num_rows
        result["utility"]["test_defects"] = int(task.target(test).sum())
    load["end"] = os.getloadavg()[0]
    result["load_average"] = load
    result["wall_time_s"] = time.perf_counter() - _T0
    say("done")
    print_table(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
        print(f"numbers written to {args.json}")


if __name__ == "__main__":
    main()
