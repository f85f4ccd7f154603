"""The least-cost assignment that matches clusters to classes and endmembers to references."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from chemmap._shared.assignment import min_cost_assignment


@pytest.mark.parametrize("kind", ["real costs", "integer costs with ties"])
def test_min_cost_assignment_finds_scipys_least_total_cost(kind):
    rng = np.random.default_rng(1)
    for _ in range(400):
        n, m = rng.integers(1, 10, 2)
        cost = rng.normal(size=(n, m)) if kind == "real costs" else rng.integers(0, 4, (n, m)).astype(float)
        rows, cols = min_cost_assignment(cost)
        assert rows.size == min(n, m) and np.all(np.diff(rows) > 0) and np.unique(cols).size == cols.size
        assert cost[rows, cols].sum() == pytest.approx(cost[linear_sum_assignment(cost)].sum(), abs=1e-9)


def test_min_cost_assignment_of_a_known_matrix_and_of_bad_input():
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    rows, cols = min_cost_assignment(cost)
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [1, 0, 2]  # 1 + 2 + 2 = 5
    rows, cols = min_cost_assignment(cost[:, :2].T)  # 2 rows, 3 columns
    assert cost[:, :2].T[rows, cols].sum() == 3.0
    with pytest.raises(ValueError, match="finite"):
        min_cost_assignment([[1.0, np.nan]])
    assert min_cost_assignment(np.zeros((0, 3)))[0].size == 0
