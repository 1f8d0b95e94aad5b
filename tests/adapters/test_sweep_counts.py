"""A sweep's counts, distributions and uncertainties are made once per distinct outcome or value
(they repeat across sets), and are exactly what one formula per entry gives."""

from __future__ import annotations

import random

from qorch.adapters.providers.pipeline.counts import Bitstrings, bitstring_counts, frequencies
from qorch.domain.execution import CircuitOutcome, ExecutionOutcome
from qorch.domain.results import nest_results

WIDTH = 10


def memory_counts(rng: random.Random, shots: int) -> dict[str, int]:
    """Counts as Aer answers them: hexadecimal memories without leading zeros."""
    counts: dict[str, int] = {}
    for _ in range(shots):
        memory = hex(min(int(rng.expovariate(1 / 40)), 2**WIDTH - 1))
        counts[memory] = counts.get(memory, 0) + 1
    return counts


def test_one_bitstrings_table_for_many_sets_gives_each_set_its_own_counts():
    rng = random.Random(7)
    sets = [memory_counts(rng, 500) for _ in range(20)]
    bitstrings = Bitstrings(range(WIDTH), WIDTH)

    for measured in sets:
        counts = bitstrings.counts(measured)
        assert counts == {format(int(m, 16), f"0{WIDTH}b"): n for m, n in measured.items()}
        assert list(counts.values()) == list(measured.values())  # in Aer's order
    assert len(bitstrings) == len(set().union(*sets))  # each outcome made once


def test_bitstrings_of_some_clbits_merge_the_outcomes_they_cannot_tell_apart():
    measured = {"0x0": 1, "0x1": 2, "0x4": 3, "0x5": 4}  # clbits 0 and 2 vary, clbit 1 is 0

    assert bitstring_counts(measured, [1, 2], 3) == {"00": 3, "10": 7}
    assert bitstring_counts(measured, [2, 0], 3) == {"00": 1, "10": 2, "01": 3, "11": 4}


def test_distributions_and_uncertainties_are_exactly_the_formula_of_each_entry():
    rng = random.Random(11)
    counts = [Bitstrings(range(WIDTH), WIDTH).counts(memory_counts(rng, 997)) for _ in range(5)]
    distributions = [frequencies(c) for c in counts]
    for c, distribution in zip(counts, distributions, strict=True):
        assert distribution == {k: n / 997 for k, n in c.items()}
        assert all(type(p) is float for p in distribution.values())

    outcome = ExecutionOutcome([CircuitOutcome(distributions=distributions, counts=counts)])
    results = nest_results(outcome, with_parameters=True, with_observables=False)

    expected = [{k: (p * (1.0 - p) / 997) ** 0.5 for k, p in d.items()} for d in distributions]
    assert results["uncertainty"] == [expected]
    assert [list(u) for u in results["uncertainty"][0]] == [list(d) for d in distributions]
