"""
============================================
An optimality certificate on a small problem
============================================

:meth:`~sklearn_convexcnn.ConvexCNNRegressor.certify` turns a fitted network into a proof: from
the network's residual it builds a feasible point of the dual of the convex program, whose
value is a **lower bound on the training objective of every two-layer ReLU CNN of this
architecture, of any width**. If the bound meets the fitted network's objective, no training,
restart or widening can do better on this data.

The bound covers every network only when every activation pattern of the data can be
enumerated and checked (the certificate then reports ``exact=True``: it says that the check
covered every pattern, for sampled fits too, not that the fit is optimal), as here: 12
signals of length 8 with filters of length 3 have 5,114 patterns. We fit with few sampled
patterns, then with more, then with all of them, and certify each fit: the gap between each
network's objective and its certified lower bound shows how far from the global optimum it
is, without knowing the optimum.
"""

# %%
# Fits with more and more patterns, each certified
# ------------------------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np

from sklearn_convexcnn import ConvexCNNRegressor

rng = np.random.default_rng(0)
X = rng.standard_normal((12, 8))
y = rng.standard_normal(12)

settings = [2, 4, 8, 16, 64, 256, "exact"]
rows = []
start = time.perf_counter()
for n_patterns in settings:
    reg = ConvexCNNRegressor(beta=0.1, kernel_size=3, n_patterns=n_patterns, random_state=0)
    reg.fit(X, y)
    certificate = reg.certify(X, y)
    rows.append((reg.n_patterns_, certificate))
    print(
        f"n_patterns={n_patterns!s:>5} ({reg.n_patterns_:4d} distinct): objective "
        f"{certificate.objective:.6f}, certified lower bound {certificate.lower_bound:.6f}, "
        f"relative gap {certificate.relative_gap:.1e}, exact={certificate.exact}, "
        f"optimal={certificate.is_optimal}"
    )
print(f"{len(settings)} fits and certificates in {time.perf_counter() - start:.1f} s")

# %%
# What the certificate shows
# --------------------------
# Each fit is the global optimum over its own patterns, but only the certificate tells how far
# it is from the global optimum over *all* networks. The bounds of the sampled fits are valid
# but loose; the gap mostly closes as patterns are added, though neither it nor the objective
# need fall at every step (each ``n_patterns`` draws its own random filters, so the sampled
# sets are not nested: 8 patterns gave an objective of 1.978 with a relative gap of 0.30, 16
# gave 2.059 with a relative gap of 0.31), and the exact fit is certified optimal: its
# objective equals the lower bound up to the solver's tolerance (a relative gap near 1e-15).
n_distinct = [n for n, _ in rows]
objectives = np.array([c.objective for _, c in rows])
bounds = np.array([c.lower_bound for _, c in rows])
labels = [str(s) for s in settings]

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
position = np.arange(len(rows))
left.plot(position, objectives, marker="o", label="objective of the fitted network")
left.plot(position, bounds, marker="s", label="certified lower bound (all networks)")
left.axhline(objectives[-1], color="black", linestyle="--", label="global optimum (exact fit)")
left.set_xticks(position, labels)
left.set_xlabel("n_patterns")
left.set_ylabel("regularized training objective")
left.set_title("objective and certified lower bound")
left.legend(fontsize=8)

gaps = np.array([c.relative_gap for _, c in rows])  # (objective - bound) / objective
# a log axis cannot show a zero gap: gaps below 1e-12 (zero, or the exact fit's 1.1e-15) are
# drawn as 1e-12, so that their bars still show
log_floor = 1e-12
right.bar(position, np.maximum(gaps, log_floor), color="tab:purple")
right.axhline(1e-6, color="black", linestyle=":", label="certify tol (1e-6)")
right.set_yscale("log")
right.set_xticks(position, [f"{s}\n({n})" for s, n in zip(labels, n_distinct, strict=True)])
right.set_xlabel("n_patterns (distinct patterns)")
right.set_ylabel("relative gap (objective - bound) / objective")
right.set_title("how far from optimal, certified")
right.legend()
fig.tight_layout()
plt.show()
