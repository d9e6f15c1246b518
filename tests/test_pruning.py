"""Pruning to at most n + 1 neurons per output (doc/formulations.md §2.4)."""

import dataclasses

import numpy as np
import pytest

from sklearn_convexcnn import ConvexCNNRegressor, _outputs
from sklearn_convexcnn._formulations._operator import DenseOperator
from sklearn_convexcnn._formulations._program import GroupProgram
from sklearn_convexcnn._formulations._pruning import (
    _fit_norms,
    _group_norms,
    _vanishing_at,
    clean_groups,
    clean_solution,
    prune_groups,
    prune_solution,
)
from sklearn_convexcnn._formulations.circular import CircularFormulation
from sklearn_convexcnn._formulations.two_layer import make_formulation
from sklearn_convexcnn._patterns import enumerate_gates
from sklearn_convexcnn._solvers import solve_cvxpy

from ._cones import assert_groups_in_cones


def _naive_objective(X, Y, filters, weights, intercept, kernel_size, beta):
    """Squared loss + weight decay of a 1-D sum-pooled CNN, with explicit loops."""
    n, d = X.shape
    K = d - kernel_size + 1
    total = 0.0
    for t in range(n):
        for o in range(Y.shape[1]):
            f = intercept[o]
            for j in range(len(filters)):
                pooled = sum(max(X[t, k : k + kernel_size] @ filters[j], 0.0) for k in range(K))
                f += weights[j, o] * pooled / K
            total += 0.5 * (f - Y[t, o]) ** 2
    return total + 0.5 * beta * (np.sum(filters**2) + np.sum(weights**2))


def _dense_solution(seed, n=10, K=6, h=2, beta=0.05):
    rng = np.random.default_rng(seed)
    patches = rng.standard_normal((n, K, h))
    y = rng.standard_normal(n)
    formulation = make_formulation("average", None, "sum", (K,))
    program = formulation.program(patches, enumerate_gates(patches))
    solution = solve_cvxpy(
        program,
        y,
        beta=beta,
        loss="squared",
        fit_intercept=True,
        solver="clarabel",
        tol=1e-8,
        max_iter=200,
    )
    return formulation, patches, program, solution, y, beta


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("matrix_free", [False, True])
def test_prune_keeps_fit_and_regularizer_with_at_most_n_plus_1_groups(seed, matrix_free):
    formulation, patches, program, solution, y, beta = _dense_solution(seed)
    norms = np.linalg.norm(solution.coef, axis=2)
    significant = norms > 1e-6 * norms.max()
    assert significant.sum() > 11  # interior point: more groups than needed
    # the native solver's matrix-free operator gives the pruning what the dense program does
    source = formulation.operator(patches, enumerate_gates(patches)) if matrix_free else program
    pruned = prune_groups(source, solution.coef)
    kept = np.linalg.norm(pruned, axis=2) > 0
    assert kept.sum() <= 10 + 1
    assert not np.any(kept & ~significant)  # only existing groups, never new ones
    reference = clean_groups(program, solution.coef)
    objective = 0.5 * np.sum((program.fit_values(pruned) + solution.intercept - y) ** 2)
    objective += beta * program.regularizer(pruned)
    assert objective == pytest.approx(solution.objective, rel=1e-7)
    np.testing.assert_allclose(
        program.fit_values(pruned), program.fit_values(reference), rtol=0, atol=1e-9
    )
    assert program.regularizer(pruned) == pytest.approx(program.regularizer(reference), rel=1e-10)
    # directions unchanged: every kept group is a non-negative multiple of the original
    for s, i in zip(*np.nonzero(kept), strict=True):
        cosine = pruned[s, i] @ solution.coef[s, i]
        assert cosine > 0
        assert cosine == pytest.approx(
            np.linalg.norm(pruned[s, i]) * np.linalg.norm(solution.coef[s, i]), rel=1e-12
        )


@pytest.mark.parametrize("scale", [1e-13, 1e13])
def test_pruning_does_not_depend_on_the_units_of_the_data(scale):
    # patches scaled by s and groups by 1/s have the same fits and the regularizer over s:
    # pruning keeps both at any s (fits of 1e-13 next to the regularizer's row of ones
    # looked dependent: all groups but one went, the fit with them)
    formulation, patches, program, solution, y, beta = _dense_solution(0)
    scaled_program = formulation.program(scale * patches, enumerate_gates(patches))
    pruned = prune_groups(scaled_program, solution.coef / scale)
    assert np.any(pruned, axis=2).sum() <= len(y) + 1
    reference = clean_groups(program, solution.coef)
    np.testing.assert_allclose(
        scaled_program.fit_values(pruned), program.fit_values(reference), rtol=0, atol=1e-9
    )
    assert scaled_program.regularizer(pruned) * scale == pytest.approx(
        program.regularizer(reference), rel=1e-10
    )


def test_groups_outside_their_cone_are_repaired_before_pruning():
    _, _, program, solution, _, _ = _dense_solution(2)
    coef = solution.coef.copy()
    norms = np.linalg.norm(coef, axis=2)
    s, i = np.unravel_index(np.argmax(norms), norms.shape)
    # a mid-sized group leaving its cone (the §2.4 failure mode), and one tilted slightly out
    j = (i + 1) % program.n_patterns
    coef[s, j] = -0.01 * norms[s, i] * program.cones[j].mean(axis=0)
    assert (program.cones[j] @ coef[s, j]).min() < 0
    coef[s, i] += 1e-3 * norms[s, i] * np.linalg.svd(program.cones[i])[2][-1]
    for cleaned in (clean_groups(program, coef), prune_groups(program, coef)):
        # repaired groups are projections onto their cones (exact but for rounding), the others
        # kept within clean_groups' cone_tol (1e-12, of the largest row: no looser per row)
        assert_groups_in_cones(program.cones, cleaned, rtol=1e-12)


def test_groups_outside_their_cone_are_repaired_whatever_the_units_of_the_data():
    # a mutant that compared the cone rows' products with cone_tol itself, not with cone_tol
    # times the largest row norm, survived: on patches of 1e-8 a direction 1e-3 out of its
    # cone has products of 1e-11, above an absolute -1e-12, and was left unrepaired
    formulation, patches, _, solution, _, _ = _dense_solution(2)
    program = formulation.program(1e-8 * patches, enumerate_gates(patches))
    coef = solution.coef.copy()
    norms = np.linalg.norm(coef, axis=2)
    s, i = np.unravel_index(np.argmax(norms), norms.shape)
    coef[s, i] += 1e-3 * norms[s, i] * np.linalg.svd(program.cones[i])[2][-1]
    assert (program.cones[i] @ coef[s, i]).min() < 0
    for cleaned in (clean_groups(program, coef), prune_groups(program, coef)):
        assert_groups_in_cones(program.cones, cleaned, rtol=1e-12)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_estimator_prunes_without_changing_the_objective(n_outputs):
    rng = np.random.default_rng(n_outputs)
    n, d, kernel_size, beta = 10, 7, 2, 0.01
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, n_outputs))
    params = dict(beta=beta, kernel_size=kernel_size, n_patterns="exact", solver="clarabel")
    dense = ConvexCNNRegressor(**params, prune=False).fit(X, Y)
    pruned = ConvexCNNRegressor(**params).fit(X, Y)
    assert dense.filters_.shape[0] > n_outputs * (n + 1)
    per_output = (pruned.output_weights_ != 0).sum(axis=0)
    assert np.all(per_output <= n + 1)
    for model in (dense, pruned):
        naive = _naive_objective(
            X, Y, model.filters_, model.output_weights_, model.intercept_, kernel_size, beta
        )
        assert naive == pytest.approx(dense.objective_, rel=1e-6)
        assert naive == pytest.approx(model.objective_, rel=1e-6)


# (1 - 1e-5: a mutant that let the network's objective exceed the pruned point's by 1e-3 of
# it, not 1e-7, survived; the network's objective would be 1e-5 above the certified one)
@pytest.mark.parametrize("factor", [0.5, 1 - 1e-5])
def test_a_pruned_solution_its_network_does_not_attain_gives_way_to_the_cleaned_one(
    monkeypatch, capsys, factor
):
    # The estimator re-checks pruning with real ReLUs (doc/formulations.md §2.4). Here the pruned
    # objectives are understated on purpose, so the network cannot attain them: the fit must
    # fall back on the cleaned solutions, those of prune=False.
    def understated(program, solution, y, **options):
        pruned = prune_solution(program, solution, y, **options)
        return dataclasses.replace(pruned, objective=factor * pruned.objective)

    monkeypatch.setattr(_outputs, "prune_solution", understated)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((10, 7)), rng.standard_normal((10, 2))
    params = dict(beta=0.01, kernel_size=2, n_patterns="exact", solver="clarabel", verbose=1)
    cleaned = ConvexCNNRegressor(**params, prune=False).fit(X, Y)
    capsys.readouterr()
    checked = ConvexCNNRegressor(**params).fit(X, Y)
    assert "pruning skipped" in capsys.readouterr().out
    assert checked.objective_ == cleaned.objective_
    assert checked.filters_.shape == cleaned.filters_.shape
    # (pruning would have left at most n + 1 neurons per output)
    assert checked.filters_.shape[0] > 2 * (10 + 1)


@pytest.mark.parametrize("prune", [True, False])
def test_a_small_group_on_large_features_is_not_residue(prune):
    # Found by test_fuzz: one feature of scale 1e6 next to a constant one. The optimum has a
    # group of norm 7.7e-7, 9.6e-7 times the largest, on the large feature: its fit (0.88) is
    # the largest of the three. Dropped as residue by its norm alone, it took the network's
    # objective 16 % above the convex optimum (2.844 against 2.457).
    large = [-440973.8, -618661.1, -652076.8, 1531416.3, 134292.5, 144186.6, 1536231.2]
    large += [2776022.5, 830115.1, -440973.8]
    X = np.column_stack([large, np.ones(10)])
    y = np.array([-0.441, 1.509, -0.619, 0.162, -0.652, 0.225, 1.531, 0.191, 0.134, -0.248])
    reg = ConvexCNNRegressor(
        kernel_size=2, stride=2, beta=0.1, n_patterns=10, fit_intercept=False,
        prune=prune, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert reg.duality_gap_ <= 1e-7 * reg.objective_
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-9)
    # the case is there: a neuron's group norm is ||u||^2, the smallest below 1e-6 of the largest
    group_norms = np.linalg.norm(reg.filters_, axis=1) ** 2
    assert group_norms.min() < 1e-6 * group_norms.max()


def test_group_norms_are_the_programs_own_behind_an_operator():
    # circular programs: block norms of the spectrum, not the Euclidean norm of the group
    rng = np.random.default_rng(0)
    patches = rng.standard_normal((6, 1, 8))
    program = CircularFormulation(3, "relu").program(patches, rng.standard_normal((8, 4)))
    coef = rng.standard_normal((2, 4, 8))
    expected = program.group_norms(coef)
    assert not np.allclose(expected, np.linalg.norm(coef, axis=2))
    np.testing.assert_allclose(_group_norms(DenseOperator(program), coef), expected, rtol=1e-14)
    np.testing.assert_allclose(_group_norms(program, coef), expected, rtol=1e-14)


def test_groups_whose_fits_span_less_than_n_plus_1_are_pruned_to_their_span():
    # three patterns with the same piece and groups in the same direction: one fit vector,
    # so one group carries it all (n + 1 = 11 would allow all three)
    rng = np.random.default_rng(0)
    piece = rng.standard_normal((10, 3))
    program = GroupProgram(np.stack([piece] * 3), np.zeros((3, 0, 3)))
    direction = np.array([0.6, 0.8, 0.0])
    coef = np.zeros((2, 3, 3))
    coef[0] = np.outer([1.0, 2.0, 0.5], direction)
    pruned = prune_groups(program, coef)
    assert np.count_nonzero(np.abs(pruned).max(axis=2)) == 1
    np.testing.assert_allclose(program.fit_values(pruned), program.fit_values(coef), rtol=1e-12)
    assert program.regularizer(pruned) == pytest.approx(program.regularizer(coef), rel=1e-12)


def test_many_more_groups_than_samples_are_pruned_a_block_at_a_time(monkeypatch):
    # the null directions were taken from the V of every group: m^2 numbers, 31 GB for the
    # 64,444 groups that a Clarabel fit at tol=1e-2 left on 30 samples (a NumPy MemoryError).
    # Then from n + 2 groups at a time, one SVD per dropped group: 4.3 s for 1,000 groups on
    # 200 samples. An SVD of n + 1 + extra groups now drops at least `extra` of them
    rng = np.random.default_rng(0)
    n, m, h = 6, 300, 2
    program = GroupProgram(rng.standard_normal((m, n, h)), np.zeros((m, 0, h)))
    coef = np.zeros((2, m, h))
    coef[0] = rng.standard_normal((m, h))
    svd, shapes = np.linalg.svd, []

    def recording(a, *args, **kwargs):
        shapes.append(np.shape(a))
        return svd(a, *args, **kwargs)

    monkeypatch.setattr(np.linalg, "svd", recording)
    pruned = prune_groups(program, coef)
    assert np.count_nonzero(np.abs(pruned).max(axis=2)) <= n + 1
    assert max(columns for _, columns in shapes) == n + 1 + 32
    assert len(shapes) <= m // 32 + 2  # (one per dropped group: 293)
    np.testing.assert_allclose(program.fit_values(pruned), program.fit_values(coef), atol=1e-10)
    assert program.regularizer(pruned) == pytest.approx(program.regularizer(coef), rel=1e-12)


def test_copies_of_a_few_groups_in_blocks_are_pruned_to_their_span():
    # 40 copies of each of 3 groups, in blocks of n + 1 + 32 = 43 groups: each block's many
    # null directions, restricted after each move, must leave one group per fit vector
    rng = np.random.default_rng(0)
    n, h = 10, 3
    pieces = np.repeat(rng.standard_normal((3, n, h)), 40, axis=0)
    program = GroupProgram(pieces, np.zeros((120, 0, h)))
    coef = np.zeros((2, 120, h))
    coef[0] = np.repeat(rng.standard_normal((3, h)), 40, axis=0) * rng.uniform(0.5, 2, (120, 1))
    pruned = prune_groups(program, coef)
    assert np.count_nonzero(np.abs(pruned).max(axis=2)) == 3
    np.testing.assert_allclose(program.fit_values(pruned), program.fit_values(coef), rtol=1e-12)
    assert program.regularizer(pruned) == pytest.approx(program.regularizer(coef), rel=1e-12)


def test_groups_that_reach_zero_together_are_pruned():
    # (a review: a move that zeroed two groups with one null direction left took a second
    # reflection of no row, an IndexError, in 5 of 100 draws)
    u, v = np.random.default_rng(39).standard_normal((2, 2))
    program = GroupProgram(np.array([u, v, (u + v) / 2])[:, :, None], np.zeros((3, 0, 1)))
    coef = np.zeros((2, 3, 1))
    coef[0, :, 0] = [1.0, 1.0, 0.5]  # the third group's fit is the mean of the others'
    pruned = prune_groups(program, coef)
    assert np.count_nonzero(pruned) <= 2
    np.testing.assert_allclose(program.fit_values(pruned), program.fit_values(coef), rtol=1e-12)
    assert program.regularizer(pruned) == pytest.approx(program.regularizer(coef), rel=1e-12)


def test_null_directions_restricted_to_a_dropped_group_stay_orthonormal_and_null():
    rng = np.random.default_rng(0)
    null = np.linalg.qr(rng.standard_normal((9, 4)))[0].T  # 4 orthonormal rows of length 9
    restricted = _vanishing_at(null, 2)
    assert restricted.shape == (3, 9)
    # (to ten roundings: 2 of 2,000 seeds came to 1.1e-15, a review)
    np.testing.assert_allclose(restricted[:, 2], 0.0, atol=1e-14)
    np.testing.assert_allclose(restricted @ restricted.T, np.eye(3), atol=1e-14)
    # combinations of the rows it was given
    np.testing.assert_allclose(restricted @ null.T @ null, restricted, atol=1e-14)
    # rows all 0 there already, or no row: nothing to drop
    null[:, 2] = 0.0
    np.testing.assert_array_equal(_vanishing_at(null, 2), null)
    assert _vanishing_at(null[:0], 2).shape == (0, 9)


def test_pruning_returns_the_cleaned_groups_when_its_moves_would_change_the_fit(monkeypatch):
    # the moves follow the SVD's null direction; should it not be one (rounding on
    # ill-conditioned fits), pruning must cost nothing: the check falls back to the cleaning
    _, _, program, solution, _, _ = _dense_solution(0)
    reference = clean_groups(program, solution.coef)
    true_svd = np.linalg.svd

    def svd_with_a_wrong_null_direction(a, full_matrices=True):
        u, singular, vt = true_svd(a, full_matrices=full_matrices)
        vt[-1] = np.abs(vt[0])  # positive everywhere: far from the fits' null space
        return u, singular, vt

    monkeypatch.setattr(np.linalg, "svd", svd_with_a_wrong_null_direction)
    pruned = prune_groups(program, solution.coef)
    np.testing.assert_array_equal(pruned, reference)


def _svd_with_null_direction(monkeypatch, direction):
    """np.linalg.svd with ``direction(a, vt)`` in place of the last row of ``vt``, the null
    direction the moves follow."""
    true_svd = np.linalg.svd

    def svd(a, full_matrices=True):
        u, singular, vt = true_svd(a, full_matrices=full_matrices)
        vt[-1] = direction(a, vt)
        vt[-1] /= np.linalg.norm(vt[-1])
        return u, singular, vt

    monkeypatch.setattr(np.linalg, "svd", svd)
    return true_svd


def _unconstrained_groups(seed=0):
    """16 groups of 5 samples, no cone rows: nothing is residue or outside its cone, and the
    directions are not those of an optimum (whose fits have the ones in their row space)."""
    rng = np.random.default_rng(seed)
    program = GroupProgram(rng.standard_normal((8, 5, 3)), np.zeros((8, 0, 3)))
    coef = rng.standard_normal((2, 8, 3))
    np.testing.assert_array_equal(clean_groups(program, coef), coef)
    return program, coef


def test_pruning_returns_the_groups_when_its_moves_would_change_only_the_regularizer(
    monkeypatch,
):
    # a mutant that dropped the check of the regularizer survived: the wrong null direction
    # of the test above breaks both checks. This one keeps the fit (the projection of the
    # ones onto the fits' null space), so only the regularizer's check can refuse it
    program, coef = _unconstrained_groups()
    sums = []

    def keeps_the_fit(a, vt):
        _, singular, v = true_svd(a[:-1], full_matrices=True)
        null = v[np.sum(singular > 1e-12 * singular[0]) :]
        delta = null.T @ (null @ np.ones(a.shape[1]))
        sums.append(delta.sum() / np.linalg.norm(delta))
        return delta

    true_svd = _svd_with_null_direction(monkeypatch, keeps_the_fit)
    np.testing.assert_array_equal(prune_groups(program, coef), coef)
    assert sums[0] > 1  # (the first move alone would have changed the regularizer)


def test_pruning_returns_the_groups_when_its_moves_would_change_only_the_fit(monkeypatch):
    # a mutant that loosened the check of the fit from 1e-9 to 1e-3 survived (see above):
    # a null direction off by 1e-6 in a direction of sum 0 keeps the regularizer and moves
    # the fit by about 1e-6 of its size, which pruning must not cost
    program, coef = _unconstrained_groups()

    def moves_the_fit(a, vt):
        off = a[0] - a[0].mean()  # (the first sample's fits, centred: sum 0)
        return vt[-1] + 1e-6 * off / np.linalg.norm(off)

    _svd_with_null_direction(monkeypatch, moves_the_fit)
    np.testing.assert_array_equal(prune_groups(program, coef), coef)


def test_groups_that_reach_zero_together_with_null_directions_left_are_pruned(monkeypatch):
    # a mutant that restricted the null directions at the first of the groups a move zeroed
    # survived: the test above has no null direction left after its tie. Here six groups of
    # one fit have five; the first move (forced: a tie of two groups) zeroes two of them, and
    # the three directions left must vanish at both, or the moves change the fit and pruning
    # gives up. One group carries it all in the end
    program = GroupProgram(np.ones((6, 1, 1)), np.zeros((6, 0, 1)))
    coef = np.zeros((2, 6, 1))
    coef[0] = 1.0
    tie = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0])
    _svd_with_null_direction(monkeypatch, lambda a, vt: tie if a.shape[1] == 6 else vt[-1])
    pruned = prune_groups(program, coef)
    assert np.count_nonzero(pruned) == 1
    np.testing.assert_allclose(program.fit_values(pruned), program.fit_values(coef), rtol=1e-12)
    assert program.regularizer(pruned) == pytest.approx(6.0, rel=1e-12)


def test_group_fits_come_from_every_chunk():
    # a mutant that stopped after the first chunk of groups survived: a chunk holds 2**23
    # numbers of pieces, and the other tests' groups all fit in one. Pieces of 2**22 + 1
    # samples (broadcast: one value per pattern) make chunks of one group each
    n_samples = 2**22 + 1
    values = np.array([1.0, 2.0, 3.0])
    pieces = np.broadcast_to(values[:, None, None], (3, n_samples, 1))
    program = GroupProgram(pieces, np.zeros((3, 0, 1)))
    coef = np.zeros((2, 3, 1))
    coef[0, :2, 0] = [1.0, -1.0]
    coef[1, 2, 0] = 2.0
    expected = np.abs(values * coef[..., 0]) * np.sqrt(n_samples)
    np.testing.assert_allclose(_fit_norms(DenseOperator(program), coef), expected, rtol=1e-12)


def test_prune_solution_drops_residue_by_the_rtol_it_is_given():
    # a mutant that pruned with the default rtol whatever the caller's survived: the
    # estimators prune again with rtol=0 where dropping the residue costs more than the
    # certified tolerance (features of scale 1 and 1e8), and that pass then dropped it too
    _, _, program, solution, y, beta = _dense_solution(0)
    options = dict(beta=beta, loss="squared")
    kept = prune_solution(program, solution, y, rtol=0.0, **options)
    np.testing.assert_array_equal(kept.coef, prune_groups(program, solution.coef, rtol=0.0))
    # (the case is there: the default rtol drops groups that rtol=0 keeps)
    dropped = prune_solution(program, solution, y, **options)
    assert not np.array_equal(kept.coef, dropped.coef)


@pytest.mark.parametrize("update", [prune_solution, clean_solution])
def test_an_updated_solution_has_its_own_objective_and_the_gap_moved_by_as_much(update):
    # mutants that left the duality gap unmoved, or returned the solver's groups uncleaned,
    # survived. The solution's objective is overstated by 0.5 here: the updated one is that of
    # its own groups, and the gap (the same dual bound) moves by as much
    _, _, program, solution, y, beta = _dense_solution(0)
    stated = dataclasses.replace(solution, objective=solution.objective + 0.5, duality_gap=0.7)
    updated = update(program, stated, y, beta=beta, loss="squared")
    assert np.any(solution.coef) and not np.array_equal(updated.coef, solution.coef)
    if update is clean_solution:
        np.testing.assert_array_equal(updated.coef, clean_groups(program, solution.coef))
    fit = program.fit_values(updated.coef) + solution.intercept
    objective = 0.5 * np.sum((fit - y) ** 2) + beta * program.regularizer(updated.coef)
    assert updated.objective == pytest.approx(objective, rel=1e-12)
    assert updated.duality_gap == pytest.approx(0.7 + updated.objective - stated.objective)
    assert updated.duality_gap == pytest.approx(0.2, abs=1e-6)


def test_residue_is_small_in_both_norm_and_fit_and_below_1e_6_of_the_largest():
    # mutants that dropped groups by their norm alone, or with RESIDUE at 1e-3, survived: the
    # estimators fall back to rtol=0 where dropping costs more than the certified tolerance,
    # which hid both. clean_groups itself must keep a group small in norm whose fit is large
    # (features of 1e8) and one 1e-5 of the largest in both, and drop one of 1e-9 in both.
    values = np.array([1.0, 1e8, 1.0, 1.0])  # (one value per pattern, on every sample)
    pieces = np.broadcast_to(values[:, None, None], (4, 5, 1)).copy()
    program = GroupProgram(pieces, np.zeros((4, 0, 1)))
    coef = np.zeros((2, 4, 1))
    coef[0, :3, 0] = [1.0, 1e-7, 1e-5]
    coef[1, 3, 0] = 1e-9
    expected = coef.copy()
    expected[1, 3, 0] = 0.0
    np.testing.assert_array_equal(clean_groups(program, coef), expected)
