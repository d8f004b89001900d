"""Critical paths and the critical-block neighbourhoods of a job-shop schedule, read from simulation records.

An operation is ``(order id, route step)``. The simulated schedule gives each station's processing order and each
operation's start and end. Its critical path is walked back from the operation that ends last: at each operation to
the predecessor (on its machine, or the job's previous operation) that ended latest, the machine one on a tie. In a
semi-active schedule with constant times that predecessor ends exactly when the operation starts, so the path's
length is the makespan; with random times or breakdowns it is the chain that held the replication up the most.

A *block* is a maximal run of path operations that follow each other on one machine. Swapping two adjacent
operations of a block (N1, van Laarhoven et al. 1992) never creates a cycle, so every such move gives a feasible
schedule; N5 (Nowicki & Smutnicki 1996) keeps only the swaps at the inner ends of the blocks (the first two
operations of every block but the first, the last two of every block but the last), the only ones that can shorten
the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

Op = tuple[str, int]  # (order id, route step)


class Move(NamedTuple):
    """Swap the operations at ``position`` and ``position + 1`` of ``station``'s sequence."""

    station: str
    position: int


class Block(NamedTuple):
    """Operations ``first`` to ``last`` (positions in the station's processing order) of a critical path."""

    station: str
    first: int
    last: int


class Timed(NamedTuple):
    """A simulated schedule: each station's operations in processing order, and each operation's (start, end)."""

    machine_ops: Mapping[str, Sequence[Op]]
    times: Mapping[Op, tuple[float, float]]


def timed_schedule(records, stations: Sequence[str]) -> Timed:
    """The schedule of one replication's ``sim.records.Records`` (one machine per station: visits come in order)."""
    machine_ops: dict[str, list[Op]] = {name: [] for name in stations}
    times: dict[Op, tuple[float, float]] = {}
    orders = records.job_order
    for visit in records.visits:  # appended as each operation leaves its machine: the processing order
        op = (orders[visit.job], visit.step)
        machine_ops[stations[visit.station]].append(op)
        times[op] = (visit.start, visit.end)
    return Timed(machine_ops, times)


def critical_blocks(schedule: Timed) -> list[Block]:
    """The blocks of the schedule's critical path, from its first operation to its last."""
    machine_ops, times = schedule.machine_ops, schedule.times
    if not times:
        return []
    where = {op: (station, i) for station, ops in machine_ops.items() for i, op in enumerate(ops)}
    op = max(times, key=lambda o: times[o][1])
    path: list[tuple[str, int, bool]] = []  # (station, position, its path predecessor is its machine's), last first
    while True:
        station, i = where[op]
        machine_pred = machine_ops[station][i - 1] if i > 0 else None
        job_pred = (op[0], op[1] - 1) if (op[0], op[1] - 1) in times else None
        if machine_pred is None and job_pred is None:
            path.append((station, i, False))
            break
        by_machine = job_pred is None or (machine_pred is not None and times[machine_pred][1] >= times[job_pred][1])
        path.append((station, i, by_machine))
        op = machine_pred if by_machine else job_pred
    path.reverse()
    blocks: list[Block] = []
    for station, i, by_machine in path:  # a machine arc into an operation continues the block before it
        if by_machine:
            blocks[-1] = Block(station, blocks[-1].first, i)
        else:
            blocks.append(Block(station, i, i))
    return blocks


def n5_moves(blocks: Sequence[Block]) -> list[Move]:
    """The N5 swaps: the first two operations of each block but the first, the last two of each but the last."""
    moves: list[Move] = []
    for b, block in enumerate(blocks):
        if block.last == block.first:
            continue
        if b > 0:
            moves.append(Move(block.station, block.first))
        if b < len(blocks) - 1 and Move(block.station, block.last - 1) not in moves:
            moves.append(Move(block.station, block.last - 1))
    return moves


def n1_moves(blocks: Sequence[Block]) -> list[Move]:
    """Every swap of two adjacent operations of a block."""
    return [Move(b.station, i) for b in blocks for i in range(b.first, b.last)]
