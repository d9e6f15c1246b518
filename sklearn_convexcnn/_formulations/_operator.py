"""Matrix-free access to a group program: what the native solver and the certificates need.

A :class:`~._program.GroupProgram` stores every piece ``A_i`` (n x h) and cone ``G_i`` (m x h)
densely: ``P * (n + m) * h`` numbers, gigabytes at n=60,000. The native solver only ever needs

* ``correlations(v)``: every ``A_i^T v`` at once (pricing and the dual certificate);
* ``pieces(index)``: the dense pieces of the few patterns in its working set;
* ``cone_products(U, index)``: ``G_i u_i`` for a few patterns (feasibility checks);
* ``cone_rows(i, rows)``: a few rows of one ``G_i`` (the constraints it adds);
* ``cone_rows_of(index, rows)``: a few rows of each of many cones (their projections' starts);
* ``candidate_rows(i)``: rows of ``G_i`` likely tight at its projections (a start; may be none);
* ``norm``: the program's :class:`~._program.GroupNorm`.

:class:`DenseOperator` provides them for any :class:`GroupProgram`, so every formulation works
with the native solver; :class:`PatchOperator` computes them from the patches and the gates in
chunks, with memory that grows like ``n * K * h`` (plus one chunk of patterns), for every
formulation whose pieces are weighted sums of gated patches and whose cones are the signed patch
rows (the two-layer programs with sum or average pooling).
"""

import bisect
import math

import numpy as np

from .._patches import BLOCK_ENTRIES
from .._patterns import row_blocks
from ._program import GroupNorm

# Entries of one block of float masks in PatchOperator.correlations: 2**16 (512 KiB) stay in a
# core's cache from their conversion to their product. Blocks of chunk_size (32 MiB) went
# through memory: on the development machine 0.87 ms against 0.50 ms a call for one region of
# the README demo (1347 samples, 9 patches, 32 patterns), 91.7 ms against 34.9 ms for 10,000
# samples, 16 patches and 256 patterns; blocks of 2**15 entries took as long as 2**16 or longer.
CACHED_ENTRIES = 2**16

# Blocks of PatchOperator's sign pass (its construction): SIGN_ENTRIES products (1 MiB), of
# SIGN_ROWS rows (all rows where fewer) and as few patterns as that leaves. The product, its
# bits and its margins then stay in a core's cache: 1.03-1.07 s against 1.71-1.73 s in blocks
# of chunk_size (32 MiB) for 60,000 signals of 16 patches and 256 patterns, 0.18-0.19 s against
# 0.41-0.43 s for 10,000. Many rows a block make each pattern's first candidates nearly its
# last, so that few rows of the later blocks are ranked at all: 20,000 patterns of 200 signals
# took 0.51-0.56 s against 2.49-2.53 s (and 3.7-3.9 s in blocks of 2**20 entries of 48 rows).
SIGN_ENTRIES = 2**17
SIGN_ROWS = 2**14


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
        # (by einsum: the norm's squares were a temporary as large as the cones)
        squares = np.einsum("pmh,pmh->pm", program.cones, program.cones)
        self.row_scale = float(np.sqrt(squares.max(initial=0.0))) or 1.0
        self.norm = program.norm

    def correlations(self, v):
        """``A_i^T v`` for every pattern, shape (n_patterns, patch_size)."""
        return np.einsum("pnh,n->ph", self.program.pieces, v)

    def pieces(self, index):
        """Dense pieces ``A_i`` of the patterns ``index``, shape (len(index), n_samples, h)."""
        return self.program.pieces[np.asarray(index, dtype=int)]

    def cone_products(self, U, index):
        """``G_i u`` for ``u = U[j]`` and ``i = index[j]``, shape (len(index), n_rows).

        One matrix-vector product per cone, on views: gathering the cones first copies
        ``len(index) * n_rows * h`` numbers (26 MB for 20 groups of a max-pooling program
        on 500 digits), and that with ``einsum`` takes 41 % of such a fit."""
        cones, U = self.program.cones, np.asarray(U, dtype=float)
        out = np.empty((len(U), cones.shape[1]))
        for j, i in enumerate(np.asarray(index, dtype=int).tolist()):
            np.matmul(cones[i], U[j], out=out[j])
        return out

    def cone_rows(self, i, rows):
        """Rows ``rows`` of ``G_i``, shape (len(rows), patch_size)."""
        return self.program.cones[i, rows]

    def cone_rows_of(self, index, rows):
        """:meth:`cone_rows` ``(index[j], rows[j])`` for every ``j``: a list."""
        return [self.cone_rows(i, r) for i, r in zip(index, rows, strict=True)]

    def candidate_rows(self, i):
        """No rows: a dense program has no cheap guess of the tight ones (candidate rows are
        sorted and distinct)."""
        return np.zeros(0, dtype=int)


class PatchOperator:
    """Operator of the program with pieces ``A_i = sum_k alpha_k D_i^k X_k`` and cones
    ``C_i = {u : (2 D_i^k - I) X_k u >= 0 for all k}``, patterns kept as packed bits.

    The signs ``1[X_k g_i >= 0]`` of every (sample, patch, pattern) are computed once from the
    gates and stored one bit each (``n K P / 8`` bytes: 30 MB at n=60,000, K=16, P=256), so
    no pass over the data recomputes them, and every method reads the same signs.

    Parameters
    ----------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    gates : ndarray of shape (patch_size, n_patterns)
        ``D_i^k = diag(1[X_k g_i >= 0])``, the convention of :func:`~.._patterns.pattern_masks`.
    patch_weights : ndarray of shape (n_patches,)
        The pooling weights ``alpha_k`` (``1/K`` for average pooling).
    chunk_size : int, default=BLOCK_ENTRIES
        Number of (sample, patch, pattern) entries processed at once; bounds the memory.
    with_candidates : bool, default=True
        Whether to find each pattern's candidate rows (:meth:`candidate_rows`), which only the
        solvers use. Selecting them costs many times the signs' own pass: pattern generation's
        oracle, which builds an operator for every ascent step only for its correlations, spent
        58 % of its time on them.
    """

    # Candidate rows kept per pattern (see _packed_signs). Every kept row costs the face
    # method's ratio tests and the pricing projections; 40 rather than 100 made regional
    # digits fits 15 % faster and left global and large-n fits unchanged.
    n_candidates = 40

    def __init__(
        self, patches, gates, patch_weights, chunk_size=BLOCK_ENTRIES, with_candidates=True
    ):
        self.gates = gates
        self.patch_weights = np.asarray(patch_weights, dtype=float)
        self.n_samples, self.n_patches, self.patch_size = patches.shape
        self.n_patterns = gates.shape[1]
        self.n_rows = self.n_samples * self.n_patches
        self.rows = np.ascontiguousarray(patches.reshape(self.n_rows, self.patch_size))
        # the patches as a view of the rows, as __setstate__ makes them in a worker of n_jobs:
        # a product with a strided copy rounded otherwise (in NumPy 1.24, pieces() differed by
        # 1e-16 between the caller and a worker)
        self.patches = self.rows.reshape(patches.shape)
        self.chunk_size = chunk_size
        self.row_scale = float(np.sqrt(np.max(np.sum(self.rows**2, axis=1), initial=0.0))) or 1.0
        self.norm = GroupNorm()
        self.signs = self._packed_signs(self.n_candidates if with_candidates else 0)

    def __getstate__(self):
        # the patches are the rows, reshaped: a worker of n_jobs gets them once, not twice
        # (7.2 MB against 3.7 MB per solve of a digits class with 2x2 regions)
        state = self.__dict__.copy()
        del state["patches"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.patches = self.rows.reshape(self.n_samples, self.n_patches, self.patch_size)

    def _sign_blocks(self):
        """Slices of the patterns and of the rows (whole samples, whole bytes of bits) that
        the sign pass takes together: at most ``min(chunk_size, SIGN_ENTRIES)`` entries, of
        about :data:`SIGN_ROWS` rows where they fit."""
        entries = min(self.chunk_size, SIGN_ENTRIES)
        unit = math.lcm(self.n_patches, 8)
        rows = max(unit, min(self.n_rows, SIGN_ROWS) // unit * unit)
        step = max(1, entries // rows)
        patterns = [
            slice(a, min(a + step, self.n_patterns)) for a in range(0, self.n_patterns, step)
        ]
        return patterns, list(
            row_blocks(self.n_rows, self.n_patches, min(step, self.n_patterns), entries)
        )

    def _pattern_blocks(self):
        """Slices of patterns few enough that the smallest block of rows (``lcm(K, 8)``: whole
        samples, whole bytes) times a slice stays within ``chunk_size`` entries: one slice
        but for very many patterns on large images (100,000 patterns of 28x28 images took
        3.9 GiB in (P, 1352) arrays without them)."""
        unit = math.lcm(self.n_patches, 8)
        step = max(1, self.chunk_size // unit)
        return [slice(a, min(a + step, self.n_patterns)) for a in range(0, self.n_patterns, step)]

    def _packed_signs(self, n_candidates):
        """Bits ``1[X_k g_i >= 0]`` (n_patterns, ceil(n_rows / 8)) and candidate rows.

        The candidates of pattern ``i`` are the ``n_candidates`` rows whose hyperplanes pass
        closest (in angle) to its gate: the cell is a narrow cone around the gate, so its
        facets, and the tight rows of projections onto it, are almost always among them.
        """
        # fewer per pattern when there are very many patterns (exact enumeration): the
        # candidates take at most about chunk_size row indices in all
        n_best = min(
            n_candidates,
            self.n_rows,
            max(2 * self.patch_size, self.chunk_size // max(1, self.n_patterns)),
        )
        norms = np.linalg.norm(self.rows, axis=1)
        # each block's bits written in place: blocks gathered and then concatenated held the
        # signs twice, where operator_bytes (the memory check) counts them once, and a fit
        # the check let through failed in NumPy's allocation of the concatenation
        packed = np.empty((self.n_patterns, -(-self.n_rows // 8)), dtype=np.uint8)
        self.candidates = []
        pattern_blocks, row_chunks = self._sign_blocks()
        for block in pattern_blocks:
            self.candidates.extend(
                self._block_signs(self.gates[:, block], n_best, norms, row_chunks, packed[block])
            )
        return packed

    def _block_signs(self, gates, n_best, norms, row_chunks, packed):
        """:meth:`_packed_signs` of the patterns of ``gates``: their bits, written into
        ``packed`` (their rows of the operator's), and their candidate rows, returned (a
        list): each pattern's ``n_best`` rows of smallest margin, the lower row first among
        equal margins (digits repeat rows), whatever the chunks."""
        n_patterns = gates.shape[1]
        # (pattern, margin, row): at most n_best kept per pattern, then those of later chunks
        # with a margin below the pattern's n_best-th kept one (limit), which they may replace
        kept = [np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0, dtype=np.intp)]
        pending, n_pending = [], 0
        limit = np.full(n_patterns, np.inf)
        for chunk in row_chunks:
            # (P, c): each pattern's signs lie contiguous, as the bits do; packing the bits of
            # the (c, P) product across its rows took most of an operator's construction
            products = gates.T @ self.rows[chunk].T
            bits = np.packbits(products >= 0, axis=1)
            packed[:, chunk.start // 8 : chunk.start // 8 + bits.shape[1]] = bits
            if not n_best:
                continue
            margins = np.abs(products, out=products)  # in place: one (P, c) array per chunk
            with np.errstate(divide="ignore", invalid="ignore"):
                margins /= norms[chunk]  # zero rows: nan, never kept
            bound = limit
            unranked = np.isinf(limit)  # patterns without n_best candidates yet
            if unranked.any():  # their bound: this chunk's n_best-th margin, ties included
                count = min(n_best, margins.shape[1])
                nth = np.partition(margins, count - 1, axis=1)[:, count - 1]  # (nan: too few)
                bound = np.where(unranked & ~np.isnan(nth), np.nextafter(nth, np.inf), limit)
            patterns, rows = np.nonzero(margins < bound[:, None])
            pending.append((patterns, margins[patterns, rows], rows + chunk.start))
            n_pending += len(patterns)
            if unranked.any() or n_pending > n_best * n_patterns or chunk.stop == self.n_rows:
                found = [np.concatenate(parts) for parts in zip(kept, *pending, strict=True)]
                pending, n_pending = [], 0
                order = np.lexsort((found[2], found[1], found[0]))  # pattern, margin, row
                found = [part[order] for part in found]
                first = np.searchsorted(found[0], np.arange(n_patterns))
                keep = np.arange(len(found[0])) - first[found[0]] < n_best
                kept = [part[keep] for part in found]
                full = np.bincount(kept[0], minlength=n_patterns) == n_best
                last = np.searchsorted(kept[0], np.arange(n_patterns), side="right") - 1
                if len(kept[1]):  # none at all when every row is zero
                    limit = np.where(full, kept[1][np.maximum(last, 0)], np.inf)
        ends = np.searchsorted(kept[0], np.arange(n_patterns + 1))
        return [np.sort(kept[2][a:b]) for a, b in zip(ends[:-1], ends[1:], strict=True)]

    def candidate_rows(self, i):
        """Rows of ``G_i`` likely to be tight in projections onto ``C_i`` (a start for them),
        sorted and distinct."""
        return self.candidates[i]

    def masks(self, index):
        """``1[X_k g_i >= 0]`` of the patterns ``index``, shape (len(index), n_rows), uint8."""
        return np.unpackbits(self.signs[np.asarray(index, dtype=int)], axis=1, count=self.n_rows)

    def correlations(self, v):
        """``A_i^T v`` for every pattern, shape (n_patterns, patch_size)."""
        weights = (np.asarray(v, dtype=float)[:, None] * self.patch_weights[None, :]).ravel()
        weighted = weights[:, None] * self.rows  # (n_rows, h)
        out = np.zeros((self.n_patterns, self.patch_size))
        cached = min(self.chunk_size, CACHED_ENTRIES)
        for block in self._pattern_blocks():
            n_block = block.stop - block.start
            for chunk in row_blocks(self.n_rows, self.n_patches, n_block, cached):
                bits = self.signs[block, chunk.start // 8 : -(-chunk.stop // 8)]
                masks = np.unpackbits(bits, axis=1, count=chunk.stop - chunk.start)
                out[block] += masks.astype(float) @ weighted[chunk]
        return out

    def pieces(self, index):
        """Dense pieces ``A_i`` of the patterns ``index``, shape (len(index), n_samples, h).

        Built a few patterns at a time, ``chunk_size`` (sample, patch, pattern) entries: the
        weighted masks of all at once, 8 bytes per entry, took 1.2 GB to prune 248 groups of
        3000 signals of 196 patches, whose pieces are 30 MB.
        """
        index = np.asarray(index, dtype=int)
        out = np.empty((len(index), self.n_samples, self.patch_size))
        step = max(1, self.chunk_size // self.n_rows)
        for start in range(0, len(index), step):
            part = slice(start, start + step)
            masks = self.masks(index[part]).reshape(-1, self.n_samples, self.n_patches)
            weighted = masks * self.patch_weights[None, None, :]
            # one (S, K) @ (K, h) product per sample: BLAS, 2-3x faster than the einsum
            out[part] = np.matmul(weighted.transpose(1, 0, 2), self.patches).transpose(1, 0, 2)
        return out

    def cone_products(self, U, index):
        """``G_i u`` for ``u = U[j]`` and ``i = index[j]``, shape (len(index), n_rows)."""
        values = np.asarray(U, dtype=float) @ self.rows.T  # (S, m), C-contiguous
        # +1 where X_k g_i >= 0, else -1: a product, 8x faster than a masked np.negative
        values *= self.masks(index).view(np.int8) * np.int8(2) - np.int8(1)
        return values

    def cone_rows(self, i, rows):
        """Rows ``rows`` of ``G_i``, shape (len(rows), patch_size)."""
        rows = np.asarray(rows, dtype=int)
        bits = (self.signs[i, rows >> 3] >> (7 - (rows & 7))) & 1
        return self.rows[rows] * np.where(bits == 1, 1.0, -1.0)[:, None]

    def cone_rows_of(self, index, rows):
        """:meth:`cone_rows` ``(index[j], rows[j])`` for every ``j``: a list, gathered at once
        (one call per cone took a fifth of pricing's relaxed prices on the README demo)."""
        lengths = [len(r) for r in rows]
        if not sum(lengths):
            return [np.zeros((0, self.patch_size)) for _ in rows]
        flat = np.concatenate(rows).astype(int, copy=False)
        patterns = np.repeat(np.asarray(index, dtype=int), lengths)
        gathered = self.cone_rows(patterns, flat)
        # (slices: np.split's overhead a piece took three times as long, 1,070 calls a fit)
        ends = np.cumsum(lengths).tolist()
        return [gathered[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def as_operator(program):
    """``program`` itself when it already is an operator, else a :class:`DenseOperator`."""
    if hasattr(program, "correlations"):
        return program
    return DenseOperator(program)


def fit_values(program, coef, intercept):
    """``sum_i A_i (c_i - c'_i) + b`` of a point, from the pieces of its non-zero groups only.

    (Non-zero by their largest entry, not their norm, which underflows for entries below
    ``1e-154``.)
    """
    operator = as_operator(program)
    active = np.flatnonzero(np.abs(coef).max(axis=(0, 2)) > 0)
    f = np.full(operator.n_samples, float(intercept))
    if len(active):
        f += np.einsum("pnh,ph->n", operator.pieces(active), coef[0, active] - coef[1, active])
    return f


class StackedOperator:
    """The groups of several operators side by side: one block per region of a regional read-out.

    Block ``b`` holds the patterns of ``operators[b]``; the program's pattern index runs over the
    blocks in order. Cones of blocks with fewer rows than the largest are padded with zero rows
    (``0 >= 0``), as in :meth:`~.two_layer.RegionalFormulation.program`.

    Parameters
    ----------
    operators : list of PatchOperator or DenseOperator
        On the same samples and patch size.
    """

    def __init__(self, operators):
        self.operators = operators
        self.offsets = np.cumsum([0] + [op.n_patterns for op in operators])
        self._starts = [int(start) for start in self.offsets[:-1]]
        self.n_patterns = int(self.offsets[-1])
        self.n_samples, self.patch_size = operators[0].n_samples, operators[0].patch_size
        self.n_rows = max(op.n_rows for op in operators)
        self.row_scale = max(op.row_scale for op in operators)
        self.norm = operators[0].norm

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

    def _block_of(self, i):
        """``(operator, local index)`` of pattern ``i`` (called per projection: no arrays)."""
        block = bisect.bisect_right(self._starts, int(i)) - 1
        return self.operators[block], int(i) - self._starts[block]

    def candidate_rows(self, i):
        """The block's candidate rows of ``G_i``."""
        op, local = self._block_of(i)
        return op.candidate_rows(local)

    def cone_rows(self, i, rows):
        """Rows ``rows`` of ``G_i``, shape (len(rows), patch_size); padding rows are zero."""
        op, local = self._block_of(i)
        rows = np.asarray(rows, dtype=int)
        out = np.zeros((len(rows), self.patch_size))
        real = rows < op.n_rows
        out[real] = op.cone_rows(local, rows[real])
        return out

    def cone_rows_of(self, index, rows):
        """:meth:`cone_rows` ``(index[j], rows[j])`` for every ``j``: a list, gathered at once
        in each block."""
        index, out = np.asarray(index, dtype=int), [None] * len(index)
        for op, positions, local in self._blocks(index):
            wanted = [rows[p] for p in positions]
            if op.n_rows == self.n_rows:  # (no padding rows)
                found = op.cone_rows_of(local, wanted)
            else:
                found = [
                    self.cone_rows(i, r) for i, r in zip(index[positions], wanted, strict=True)
                ]
            for p, block in zip(positions, found, strict=True):
                out[p] = block
        return out


class ScaledOperator:
    """The operator of the same program on inputs scaled by ``factor``: every piece and cone
    row times ``factor``, the same patterns and candidate rows. A power of two scales exactly,
    so that the program of ``2**k * X`` is the very program of ``X``, bit for bit.

    Parameters
    ----------
    operator : DenseOperator, PatchOperator or StackedOperator
    factor : float
    """

    def __init__(self, operator, factor):
        self.operator, self.factor = operator, factor
        self.n_patterns, self.n_samples = operator.n_patterns, operator.n_samples
        self.patch_size, self.n_rows = operator.patch_size, operator.n_rows
        self.row_scale = factor * operator.row_scale
        self.norm = operator.norm

    def correlations(self, v):
        """``A_i^T v`` for every pattern, shape (n_patterns, patch_size)."""
        return self.factor * self.operator.correlations(v)

    def pieces(self, index):
        """Dense pieces ``A_i`` of the patterns ``index``, shape (len(index), n_samples, h)."""
        return self.factor * self.operator.pieces(index)

    def cone_products(self, U, index):
        """``G_i u`` for ``u = U[j]`` and ``i = index[j]``, shape (len(index), n_rows)."""
        return self.factor * self.operator.cone_products(U, index)

    def candidate_rows(self, i):
        """The operator's candidate rows of ``G_i``."""
        return self.operator.candidate_rows(i)

    def cone_rows(self, i, rows):
        """Rows ``rows`` of ``G_i``, shape (len(rows), patch_size)."""
        return self.factor * self.operator.cone_rows(i, rows)

    def cone_rows_of(self, index, rows):
        """:meth:`cone_rows` ``(index[j], rows[j])`` for every ``j``: a list."""
        return [self.factor * block for block in self.operator.cone_rows_of(index, rows)]
