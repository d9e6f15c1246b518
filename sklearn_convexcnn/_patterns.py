"""Activation patterns of a single convolution filter.

A pattern is the joint sign vector ``1[X_k u >= 0]`` over all samples and all patches produced by
one filter ``u`` (formulations.md §3): a cell of the hyperplane arrangement of the stacked patch
matrix. It is never the product of per-patch patterns. We represent every pattern by a *gate*,
a filter that lies inside its cell, so the masks can be recomputed from the gates on any data.
"""

import numpy as np


def pattern_masks(patches, gates):
    """Boolean activation masks ``1[X_k g >= 0]`` of each gate.

    Parameters
    ----------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    gates : ndarray of shape (patch_size, n_gates)

    Returns
    -------
    masks : ndarray of bool, shape (n_samples, n_patches, n_gates)
    """
    return patches @ gates >= 0


def unique_gates(patches, gates, chunk_size=256):
    """Keep the first gate of every distinct pattern, in order of appearance.

    Patterns are compared as packed bits, ``chunk_size`` gates at a time, so memory stays at
    ``n_samples * n_patches * chunk_size`` bits whatever the number of gates.
    """
    seen, keep = set(), []
    for start in range(0, gates.shape[1], chunk_size):
        chunk = pattern_masks(patches, gates[:, start : start + chunk_size])
        packed = np.packbits(chunk.reshape(-1, chunk.shape[2]), axis=0)
        for offset, column in enumerate(packed.T):
            key = column.tobytes()
            if key not in seen:
                seen.add(key)
                keep.append(start + offset)
    return gates[:, keep]


def sample_gates(patches, n_patterns, random_state):
    """Gates of the patterns of ``n_patterns`` random Gaussian filters, de-duplicated.

    This is the sampled program of formulations.md §2.5: a restriction of the exact one, so its
    optimum is an upper bound on the global optimum and always a realisable network.

    Parameters
    ----------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    n_patterns : int
        Number of filters drawn; fewer patterns remain when two filters share a pattern.
    random_state : numpy.random.Generator or RandomState

    Returns
    -------
    gates : ndarray of shape (patch_size, n_unique)
    """
    gates = random_state.standard_normal((patches.shape[2], n_patterns))
    return unique_gates(patches, gates)
