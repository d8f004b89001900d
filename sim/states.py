"""The vocabulary of records, KPIs and reports: machine states and job statuses.

The integer values are what the engine stores and the codes of the dictionary columns in the record tables
(``states.state``, ``jobs.status``); the lower-case names are the dictionary entries.
"""

from __future__ import annotations

from enum import IntEnum


class MachineState(IntEnum):
    """What a machine is doing; a state lasts until the machine's next state change."""

    STARVED = 0  # no work in its queue
    BUSY = 1  # processing
    BLOCKED = 2  # holding a finished job: the next buffer is full, or it waits for a transporter
    IDLE = 3  # work waits but cannot start yet (a batch filling, a kit incomplete)
    SETUP = 4  # changing over between product families
    DOWN = 5  # failed: waiting for or under repair
    MAINTENANCE = 6  # preventive maintenance
    OFF_SHIFT = 7  # outside its shift calendar

    @property
    def label(self) -> str:
        return self.name.lower()


class JobStatus(IntEnum):
    """Where a job is: still in the plant, or how it left."""

    IN_SYSTEM = 0
    COMPLETED = 1
    SCRAPPED = 2
    CONSUMED = 3  # a component built into an assembly

    @property
    def label(self) -> str:
        return self.name.lower()


STATE_NAMES: tuple[str, ...] = tuple(state.label for state in MachineState)
STATUS_NAMES: tuple[str, ...] = tuple(status.label for status in JobStatus)
ACTIVE_STATES = (MachineState.BUSY, MachineState.SETUP, MachineState.DOWN, MachineState.MAINTENANCE)
