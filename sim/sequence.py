"""Station sequences: a schedule given as the order in which each station starts the jobs of an order book.

``stations.X.sequence = ["J3", "J0", ...]`` lists order ids; the station starts the listed jobs in exactly that
order, its machines waiting idle until the next one has arrived (``sim.station``), so a set of sequences is a
semi-active schedule that the simulator decodes. An order whose route visits the station k times may be listed up
to k times (its i-th entry is its i-th visit); visits not listed follow by the dispatch rule once the sequence is
done.

:func:`sequence_problems` checks the sequences of a validated scenario: ids of known orders that visit the station,
no more entries than visits, no batch station, no mechanism that could remove a listed job on its way (inspection,
failures that scrap), and no cycle of waits between the sequences and the routes (operation a waits for b when b
comes before a on a's route or in a's station's sequence), which the simulation could only end as a stall.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

Visit = tuple[str, int]  # (order id, step of its route)


def _show_ids(ids: list[str], limit: int = 8) -> str:
    return ", ".join(ids[:limit]) + (f", … ({len(ids)} in all)" if len(ids) > limit else "")


def _visits(scenario: Any) -> dict[str, dict[str, list[int]]]:
    """Station -> order id -> the steps of the order's route at that station."""
    found: dict[str, dict[str, list[int]]] = {name: {} for name in scenario.stations}
    for order in scenario.release.orders or ():
        product = scenario.products.get(order.product)
        for step, op in enumerate(product.route if product is not None else ()):
            found.setdefault(op.station, {}).setdefault(order.id, []).append(step)
    return found


def sequence_problems(scenario: Any) -> list[tuple[str, str]]:
    """Problems with the stations' ``sequence`` options of ``scenario`` (a ``sim.spec.Scenario``)."""
    sequenced = {name: st.sequence for name, st in scenario.stations.items() if st.sequence}
    if not sequenced:
        return []
    orders = [order.id for order in scenario.release.orders or ()]
    known = set(orders)
    visits = _visits(scenario)
    problems: list[tuple[str, str]] = []
    removers = [
        f"stations.{name}.{what}"
        for name, st in scenario.stations.items()
        for what, present in (
            ("inspection", st.inspection is not None),
            ("failures.on_failure", st.failures is not None and st.failures.on_failure == "scrap"),
        )
        if present
    ]
    for name, sequence in sequenced.items():
        field = f"stations.{name}.sequence"
        if not orders:
            problems.append((field, "a sequence lists order ids: it needs an order book (release.orders)"))
            continue
        if scenario.stations[name].batch is not None:
            problems.append((field, "a batch station cannot follow a sequence"))
        if removers:
            problems.append(
                (
                    field,
                    "a sequence needs every job it lists to arrive; jobs can be scrapped or reworked here "
                    f"({', '.join(removers)})",
                )
            )
        unknown = list(dict.fromkeys(i for i in sequence if i not in known))
        if unknown:
            problems.append((field, f"no order named {_show_ids(unknown)} (orders: {_show_ids(orders)})"))
        for order, count in Counter(i for i in sequence if i in known).items():
            steps = len(visits[name].get(order, ()))
            if steps == 0:
                problems.append((field, f"order {order!r} does not visit {name}"))
            elif count > steps:
                times = "once" if steps == 1 else f"{steps} times"
                problems.append((field, f"duplicate order id {order!r}: its route visits {name} {times}"))
    if problems:
        return problems
    cycle = _wait_cycle(scenario, sequenced, visits)
    if cycle:
        products = {order.id: scenario.products[order.product] for order in scenario.release.orders}
        where = [(order, products[order].route[step].station) for order, step in cycle]
        station = next((s for _, s in where if s in sequenced), next(iter(sequenced)))
        path = " → ".join(f"{order}@{s}" for order, s in [*where, where[0]])
        message = f"sequences and routes form a cycle (each visit must come before the next), it cannot run: {path}"
        problems.append((f"stations.{station}.sequence", message))
    return problems


def _wait_cycle(scenario: Any, sequenced: dict[str, list[str]], visits: dict[str, dict[str, list[int]]]) -> list[Visit]:
    """A cycle of visits, each to come before the next by a route or a sequence, or an empty list."""
    after: dict[Visit, list[Visit]] = {}  # visit -> the visits that wait for it
    for order in scenario.release.orders:
        route = scenario.products[order.product].route
        for step in range(len(route) - 1):
            after.setdefault((order.id, step), []).append((order.id, step + 1))
    for name, sequence in sequenced.items():
        seen: Counter[str] = Counter()
        chain: list[Visit] = []
        for order in sequence:
            chain.append((order, visits[name][order][seen[order]]))
            seen[order] += 1
        listed = set(chain)
        unlisted = [(o, k) for o, steps in visits[name].items() for k in steps if (o, k) not in listed]
        for first, then in itertools.pairwise(chain):
            after.setdefault(first, []).append(then)
        after.setdefault(chain[-1], []).extend(unlisted)  # visits it does not list come after the sequence
    state: dict[Visit, int] = {}  # 1: on the current path, 2: done
    for root in list(after):
        if root in state:
            continue
        path, stack = [root], [iter(after.get(root, ()))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(after.get(nxt, ())))
    return []
