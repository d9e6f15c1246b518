"""Matrix-free access to a group program: what the native solver and the certificates need.

A :class:`~._program.GroupProgram` stores every piece ``A_i`` (n x h) and cone ``G_i`` (m x h)
densely: ``P * (n + m) * h`` numbers, gigabytes at n=60,000. The native solver only ever needs

* ``correlations(v)``: every ``A_i^T v`` at once (pricing and the dual certificate);
* ``pieces(index)``: the dense pieces of the few patterns in its working set;
* ``cone_products(U, index)``: ``G_i u_i`` for a few patterns (feasibility checks);
* ``cone_rows(i, rows)``: a few rows of one ``G_i`` (the constraints it adds).

:class:`DenseOperator` provides them for any :class:`GroupProgram`, so every formulation works
with the native solver; :class:`PatchOperator` computes them from the patches and the gates in
chunks, with memory that grows like ``n * K * h`` (plus one chunk of patterns), for every
formulation whose pieces are weighted sums of gated patches and whose cones are the signed patch
rows (the two-layer programs with sum or average pooling).
"""

import numpy as np


class DenseOperator:
    """The operator interface over a dense :class:`~._program.GroupProgram`.

    Parameters
    ----------
    program : GroupProgram
    """

    def __init__(self, program):
        self.program = program
        self.n_patterns, self.n_samples, self.patch_size = program.pieces.shape
        self.n_rows = program.cones.shape[1]
        norms = np.linalg.norm(program.cones, axis=2)
        self.row_scale = float(norms.max(initial=0.0)) or 1.0

    def correlations(self, v):
        """``A_i^T v`` for every pattern, shape (n_patterns, patch_size)."""
        return np.einsum("pnh,n->ph", self.program.pieces, v)

    def pieces(self, index):
        """Dense pieces ``A_i`` of the patterns ``index``, shape (len(index), n_samples, h)."""
        return self.program.pieces[np.asarray(index, dtype=int)]

    def cone_products(self, U, index):
        """``G_i u`` for ``u = U[j]`` and ``i = index[j]``, shape (len(index), n_rows)."""
        return np.einsum("pmh,ph->pm", self.program.cones[np.asarray(index, dtype=int)], U)

    def cone_rows(self, i, rows):
        """Rows ``rows`` of ``G_i``, shape (len(rows), patch_size)."""
        return self.program.cones[i, rows]


class PatchOperator:
    """Operator of the program with pieces ``A_i = sum_k alpha_k D_i^k X_k`` and cones
    ``C_i = {u : (2 D_i^k - I) X_k u >= 0 for all k}``, patterns recomputed from the gates.

    Parameters
    ----------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    gates : ndarray of shape (patch_size, n_patterns)
        ``D_i^k = diag(1[X_k g_i >= 0])``, the convention of :func:`~.._patterns.pattern_masks`.
    patch_weights : ndarray of shape (n_patches,)
        The pooling weights ``alpha_k`` (``1/K`` for average pooling).
    chunk_size : int, default=2**22
        Number of (sample, patch, pattern) entries processed at once; bounds the memory.
    """

    def __init__(self, patches, gates, patch_weights, chunk_size=2**22):
        self.patches = patches
        self.gates = gates
        self.patch_weights = np.asarray(patch_weights, dtype=float)
        self.n_samples, self.n_patches, self.patch_size = patches.shape
        self.n_patterns = gates.shape[1]
        self.n_rows = self.n_samples * self.n_patches
        self.rows = patches.reshape(self.n_rows, self.patch_size)
        self.chunk_size = chunk_size
        self.row_scale = float(np.sqrt(np.max(np.sum(self.rows**2, axis=1), initial=0.0))) or 1.0

    def _sample_chunks(self, n_columns):
        step = max(1, self.chunk_size // max(1, self.n_patches * n_columns))
        for start in range(0, self.n_samples, step):
            yield slice(start, min(start + step, self.n_samples))

    def correlations(self, v):
        """``A_i^T v`` for every pattern, shape (n_patterns, patch_size)."""
        out = np.zeros((self.n_patterns, self.patch_size))
        for chunk in self._sample_chunks(self.n_patterns):
            X = self.patches[chunk]  # (c, K, h)
            masks = X @ self.gates >= 0  # (c, K, P)
            weights = v[chunk, None] * self.patch_weights[None, :]  # (c, K)
            gated = np.where(masks, weights[:, :, None], 0.0)
            out += gated.reshape(-1, self.n_patterns).T @ X.reshape(-1, self.patch_size)
        return out

    def pieces(self, index):
        """Dense pieces ``A_i`` of the patterns ``index``, shape (len(index), n_samples, h)."""
        gates = self.gates[:, np.asarray(index, dtype=int)]
        masks = self.patches @ gates >= 0  # (n, K, S)
        weighted = masks * self.patch_weights[None, :, None]
        return np.einsum("nks,nkh->snh", weighted, self.patches)

    def cone_products(self, U, index):
        """``G_i u`` for ``u = U[j]`` and ``i = index[j]``, shape (len(index), n_rows)."""
        index = np.asarray(index, dtype=int)
        values = np.asarray(U, dtype=float) @ self.rows.T  # (S, m), C-contiguous
        negative = self.gates[:, index].T @ self.rows.T < 0
        np.negative(values, out=values, where=negative)
        return values

    def cone_rows(self, i, rows):
        """Rows ``rows`` of ``G_i``, shape (len(rows), patch_size)."""
        selected = self.rows[rows]
        signs = np.where(selected @ self.gates[:, i] >= 0, 1.0, -1.0)
        return selected * signs[:, None]


def as_operator(program):
    """``program`` itself when it already is an operator, else a :class:`DenseOperator`."""
    if hasattr(program, "correlations"):
        return program
    return DenseOperator(program)


class StackedOperator:
    """The groups of several operators side by side: one block per region of a regional read-out.

    Block ``b`` holds the patterns of ``operators[b]``; the program's pattern index runs over the
    blocks in order. Cones of blocks with fewer rows than the largest are padded with zero rows
    (``0 >= 0``), as in :meth:`~.pooling.RegionalFormulation.program`.

    Parameters
    ----------
    operators : list of PatchOperator or DenseOperator
        On the same samples and patch size.
    """

    def __init__(self, operators):
        self.operators = operators
        self.offsets = np.cumsum([0] + [op.n_patterns for op in operators])
        self.n_patterns = int(self.offsets[-1])
        self.n_samples, self.patch_size = operators[0].n_samples, operators[0].patch_size
        self.n_rows = max(op.n_rows for op in operators)
        self.row_scale = max(op.row_scale for op in operators)

    def _blocks(self, index):
        """``(block, positions, local index)`` for every block that ``index`` touches."""
        index = np.asarray(index, dtype=int)
        block = np.searchsorted(self.offsets, index, side="right") - 1
        for b in np.unique(block):
            positions = np.flatnonzero(block == b)
            yield self.operators[b], positions, index[positions] - self.offsets[b]

    def correlations(self, v):
        """``A_i^T v`` for every pattern, shape (n_patterns, patch_size)."""
        return np.concatenate([op.correlations(v) for op in self.operators])

    def pieces(self, index):
        """Dense pieces ``A_i`` of the patterns ``index``, shape (len(index), n_samples, h)."""
        out = np.empty((len(index), self.n_samples, self.patch_size))
        for op, positions, local in self._blocks(index):
            out[positions] = op.pieces(local)
        return out

    def cone_products(self, U, index):
        """``G_i u`` for ``u = U[j]`` and ``i = index[j]``, shape (len(index), n_rows)."""
        U = np.asarray(U, dtype=float)
        out = np.zeros((len(index), self.n_rows))
        for op, positions, local in self._blocks(index):
            out[positions, : op.n_rows] = op.cone_products(U[positions], local)
        return out

    def cone_rows(self, i, rows):
        """Rows ``rows`` of ``G_i``, shape (len(rows), patch_size); padding rows are zero."""
        ((op, _, local),) = self._blocks([i])
        rows = np.asarray(rows, dtype=int)
        out = np.zeros((len(rows), self.patch_size))
        real = rows < op.n_rows
        out[real] = op.cone_rows(int(local[0]), rows[real])
        return out
