"""Deadlock detection at run time: a circular wait of machines holding finished jobs for full buffers.

A machine that holds a finished job until its next station has a place (``Machine.waiting_for``) takes no new
work. A place at a station frees only when one of its machines takes a job from its queue. So if every machine of
a set of stations waits for a place at a station of the same set, no place there will ever free again: the
stations are deadlocked for good (however long the run goes on, new arrivals only pile up in front). The check
runs each time a machine starts to wait and looks only at the stations it reaches, which usually ends at the
first machine that is busy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.station import Station


def circular_wait(station: Station) -> list[Station] | None:
    """The stations of the cycle that ``station`` is locked in, or None if some machine there can still move.

    ``station`` is the one a machine has just started to wait for. All machines reachable by following
    ``waiting_for`` must be waiting for the set to be locked; the cycle reported is the one found by following each
    station's first machine from ``station``.
    """
    seen = {station.index}
    stack = [station]
    while stack:
        for machine in stack.pop().machines:
            target = machine.waiting_for
            if target is None:
                return None
            if target.index not in seen:
                seen.add(target.index)
                stack.append(target)
    path: list[Station] = []
    current = station
    while current not in path:
        path.append(current)
        current = current.machines[0].waiting_for
    return path[path.index(current) :]
