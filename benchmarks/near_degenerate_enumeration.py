"""Exact enumeration on nearly degenerate patches: complete, refused, or silently short.

Usage::

    PYTHONPATH=. python benchmarks/near_degenerate_enumeration.py [--seeds S] [--verbose]

Rows in general position but close to a degenerate arrangement (near copies, rows near the
span of a few others, integer rows plus noise, an offset, a thin coordinate) bound cells too
thin for float64. ``arrangement_gates`` must then either find every cell or refuse
(``TooManyPatterns``); finding fewer without a word is the failure this script counts. The
rows are Gaussian (or integer) draws, so in general position, and every cell count is compared
with the Cover bound of their distinct hyperplanes and rank. The families, in ``h = 3..6``
(with 14, 11, 9 and 8 base rows), at relative scales ``1e-5..1e-9``:

* ``clusters``: a third of the rows twice more, each entry moved by the scale;
* ``near_span_m<m>``: three rows, random combinations of ``m`` others, moved relatively
  (``near_span_abs_m<m>``: unit rows moved absolutely);
* ``same_pair``: three combinations of the same two rows;
* ``int_ternary``, ``int_04``: distinct integer rows (in ``{-1, 0, 1}``, ``{0..4}``) plus noise;
* ``offset``: ``1 + scale * noise`` at scales ``1e-2..1e-5``;
* ``thin``: the last coordinate scaled by ``1e-6..1e-10``.

Prints, per family, the runs that were complete, refused and short (with the cells lost), and
the totals; ``--verbose`` prints every configuration. About 5 minutes for 5 seeds (1,060
enumerations) on the 2-core development machine. Results: ``benchmarks/README.md``, section
"Exact enumeration on nearly degenerate patches".
"""

import argparse
import collections

import numpy as np

from sklearn_convexcnn._patterns import (
    TooManyPatterns,
    arrangement_gates,
    cover_bound,
    distinct_hyperplanes,
)

BASE_ROWS = {3: 14, 4: 11, 5: 9, 6: 8}


def clusters(rng, h, scale, n):
    rows = rng.standard_normal((max(4, n - 3), h))
    third = rows[: len(rows) // 3]
    copies = [third * (1 + scale * rng.standard_normal(third.shape)) for _ in range(2)]
    return np.vstack([rows, *copies])


def near_span(rng, h, scale, n, m, *, same=False, absolute=False):
    rows = rng.standard_normal((n, h))
    if absolute:
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    pick = rng.choice(n, m, replace=False)
    spans = []
    for _ in range(3):
        span = rng.standard_normal(m) @ rows[pick if same else rng.choice(n, m, replace=False)]
        spans.append(span / np.linalg.norm(span) if absolute else span)
    spans = np.array(spans)
    noise = scale * rng.standard_normal(spans.shape)
    return np.vstack([rows, spans + noise if absolute else spans * (1 + noise)])


def integer_rows(rng, h, scale, n, low, high):
    """Integer rows in ``[low, high]``, one of each direction, plus noise."""
    rows = rng.integers(low, high + 1, (n, h)).astype(float)
    rows = rows[np.abs(rows).sum(axis=1) > 0]
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    unit *= np.sign(unit[np.arange(len(unit)), np.argmax(np.abs(unit) > 1e-8, axis=1)])[:, None]
    _, first = np.unique(np.round(unit, 9), axis=0, return_index=True)
    rows = rows[np.sort(first)]
    return rows + scale * rng.standard_normal(rows.shape)


def offset(rng, h, scale, n):
    return 1.0 + scale * rng.standard_normal((n, h))


def thin(rng, h, scale, n):
    rows = rng.standard_normal((n, h))
    rows[:, -1] *= scale
    return rows


def configurations():
    """``(family, h, scale, make)`` with ``make(rng)`` the rows."""
    for h, n in BASE_ROWS.items():
        for scale in (1e-5, 1e-6, 1e-7, 1e-8, 1e-9):
            yield "clusters", h, scale, lambda rng, h=h, s=scale, n=n: clusters(rng, h, s, n)
            for m in range(2, h):
                for absolute in (False, True):
                    name = f"near_span{'_abs' if absolute else ''}_m{m}"
                    yield (
                        name,
                        h,
                        scale,
                        lambda rng, h=h, s=scale, n=n, m=m, a=absolute: near_span(
                            rng, h, s, n, m, absolute=a
                        ),
                    )
            yield (
                "same_pair",
                h,
                scale,
                lambda rng, h=h, s=scale, n=n: near_span(rng, h, s, n, 2, same=True),
            )
            for family, low, high in (("int_ternary", -1, 1), ("int_04", 0, 4)):
                yield (
                    family,
                    h,
                    scale,
                    lambda rng, h=h, s=scale, n=n, a=low, b=high: integer_rows(
                        rng, h, s, n + 4, a, b
                    ),
                )
        for scale in (1e-2, 1e-3, 1e-4, 1e-5):
            yield "offset", h, scale, lambda rng, h=h, s=scale, n=n: offset(rng, h, s, n)
        for scale in (1e-6, 1e-8, 1e-9, 1e-10):
            yield "thin", h, scale, lambda rng, h=h, s=scale, n=n: thin(rng, h, s, n)


def outcome(rows):
    """``"refused"``, or the cells the enumeration found short of the Cover bound (of full
    rank: every family is in general position, its thin coordinates included)."""
    try:
        gates = arrangement_gates(rows)
    except TooManyPatterns:
        return "refused"
    normals = distinct_hyperplanes(rows, strict=True)
    found = np.unique(rows @ gates >= 0, axis=1).shape[1]
    return cover_bound(len(normals), min(len(normals), rows.shape[1])) - found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    tally = collections.defaultdict(collections.Counter)
    lost = collections.Counter()
    for family, h, scale, make in configurations():
        results = [outcome(make(np.random.default_rng(seed))) for seed in range(args.seeds)]
        for result in results:
            kind = "refused" if result == "refused" else "complete" if result == 0 else "short"
            tally[family][kind] += 1
            lost[family] += 0 if kind != "short" else result
        if args.verbose:
            print(f"{family:20s} h={h} scale={scale:.0e} {results}", flush=True)
    print(f"{'family':20s} {'complete':>8s} {'refused':>8s} {'short':>6s} {'cells lost':>10s}")
    for family, counts in tally.items():
        print(
            f"{family:20s} {counts['complete']:8d} {counts['refused']:8d} {counts['short']:6d}"
            f" {lost[family]:10d}"
        )
    total = sum(tally.values(), collections.Counter())
    print(
        f"{'all':20s} {total['complete']:8d} {total['refused']:8d} {total['short']:6d}"
        f" {sum(lost.values()):10d}"
    )


if __name__ == "__main__":
    main()
