"""Cells of the Markdown report: readable whatever the size of the number."""

import pytest

from chemmap.report.tables import format_value


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (0.98, "0.980"),
        (78609.476, "78609.476"),
        (151351572938996.56, "1.51352e+14"),  # k-means inertia of a Raman map in counts
        (-1110552.588, "-1.11055e+06"),  # a BIC
        (0.0004, "0.0004"),  # would read 0.000
        (0.0, "0.000"),
        (None, "n/a"),
        (7, "7"),
    ],
)
def test_a_cell_keeps_the_digits_that_tell_numbers_apart(value, cell):
    assert format_value(value) == cell
