import numpy as np

from sklearn_convexcnn._patterns import pattern_masks, sample_gates, unique_gates


def _patches(seed=0, n=12, K=5, h=3):
    return np.random.default_rng(seed).standard_normal((n, K, h))


def test_sampling_is_reproducible_and_deduplicated():
    patches = _patches()
    first = sample_gates(patches, 200, np.random.default_rng(1))
    second = sample_gates(patches, 200, np.random.default_rng(1))
    np.testing.assert_array_equal(first, second)
    masks = pattern_masks(patches, first).reshape(-1, first.shape[1])
    assert len({column.tobytes() for column in masks.T}) == first.shape[1]
    assert first.shape[1] < 200  # h=3 filters of 60 patches repeat patterns


def test_unique_gates_keeps_first_occurrences_across_blocks_of_gates():
    # 300 gates, then the same patterns again (scaled, reversed): past the 256 gates whose
    # keys are computed at once, so the repeats fall in other blocks than their originals
    patches = _patches(2, n=23)
    gates = np.random.default_rng(3).standard_normal((3, 300))
    repeated = np.concatenate([gates, 2.0 * gates[:, ::-1]], axis=1)
    masks = pattern_masks(patches, gates).reshape(-1, gates.shape[1])
    first = {}
    for index, column in enumerate(masks.T):
        first.setdefault(column.tobytes(), index)
    expected = gates[:, sorted(first.values())]
    assert expected.shape[1] < 300  # (h=3 filters of 115 patches repeat patterns)
    np.testing.assert_array_equal(unique_gates(patches, repeated), expected)


def test_patterns_are_joint_over_patches():
    # one filter fixes the pattern of every patch at once: the pattern set of a 1-D filter on
    # two patches with opposite signs is {(1, 0), (0, 1)}, never the product's (1, 1) / (0, 0)
    patches = np.array([[[1.0], [-1.0]]])
    gates = sample_gates(patches, 50, np.random.default_rng(0))
    masks = {tuple(column) for column in pattern_masks(patches, gates)[0].T}
    assert masks == {(True, False), (False, True)}
