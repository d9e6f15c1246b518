"""
==================================================
Activation patterns: the cells of a filter's plane
==================================================

The convex program of Ergen & Pilanci (2021) has one block per *activation pattern*: the
on/off table of which patches of which samples a filter ``u`` switches on, ``1[x_tk . u >= 0]``.
Every patch ``x_tk`` splits the space of filters by the hyperplane ``x_tk . u = 0``; the
patterns are the cells of that arrangement of ``n K`` hyperplanes, and inside a cell the ReLU
network is linear in ``u``. With filters of length 2 the space of filters is a plane, the
hyperplanes are lines through the origin, and the cells are the sectors between them, which
can be drawn.

We take 6 signals of length 5 with filters of length 2: ``K = 4`` patches per signal, 24 lines,
and at most ``2 * 24 = 48`` sectors (Cover's bound ``2 * sum_{l < h} C(nK - 1, l)`` with
``h = 2``). ``n_patterns="exact"`` enumerates them; an int samples the patterns of that many
random filters, which finds the wide sectors first.
"""

# %%
# Every pattern, and the optimal network's filters among them
# -----------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_convexcnn import ConvexCNNRegressor

rng = np.random.default_rng(0)
n_samples, length, kernel_size = 6, 5, 2
X = rng.standard_normal((n_samples, length))
y = rng.standard_normal(n_samples)
patches = np.lib.stride_tricks.sliding_window_view(X, kernel_size, axis=1).reshape(-1, 2)

exact = ConvexCNNRegressor(beta=0.1, kernel_size=kernel_size, n_patterns="exact").fit(X, y)
print(
    f"{len(patches)} patch lines, {exact.n_patterns_} patterns (Cover's bound "
    f"{2 * len(patches)}), optimum {exact.objective_:.6f} with {len(exact.filters_)} neurons"
)

# %%
# Left: each line is the set of filters that put one patch exactly at zero; a point on the
# unit circle marks one pattern's cell (the package's ``gates_``, a filter inside each
# cell). The arrows are the filters of the optimal network, scaled to unit length: each lies
# in one cell (or on its edge: the cones are closed), so on the training data its ReLU acts as
# the fixed linear map of that cell.
# Right: how many distinct patterns ``n`` random filters find, against the number of cells.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.5), layout="constrained")
for x in patches:
    direction = np.array([-x[1], x[0]]) / np.linalg.norm(x)  # the line x . u = 0
    left.plot(*np.outer([-1.3, 1.3], direction).T, color="lightgray", linewidth=0.8)
gates = exact.gates_ / np.linalg.norm(exact.gates_, axis=0)
left.scatter(*gates, s=12, color="tab:blue", label=f"one filter per cell ({exact.n_patterns_})")
for u, w in zip(exact.filters_, exact.output_weights_[:, 0], strict=True):
    u = u / np.linalg.norm(u)
    color = "tab:red" if w > 0 else "tab:green"
    left.annotate("", xy=u, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=color))
left.plot([], [], color="tab:red", label="optimal filter, positive output weight")
left.plot([], [], color="tab:green", label="optimal filter, negative output weight")
left.set_aspect("equal")
left.set_xlim(-1.3, 1.3)
left.set_ylim(-1.3, 1.3)
left.set_xlabel("filter weight u[0]")
left.set_ylabel("filter weight u[1]")
left.set_title("the plane of filters, cut by one line per patch")
# below the panel, where the constrained layout makes room for it
left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8)

counts = [1, 2, 4, 8, 16, 32, 64, 128, 256]
found = []
for n in counts:
    sampled = ConvexCNNRegressor(beta=0.1, kernel_size=kernel_size, n_patterns=n, random_state=0)
    found.append(sampled.fit(X, y).n_patterns_)
    print(f"n_patterns={n:3d}: {found[-1]:2d} distinct, optimum {sampled.objective_:.6f}")
right.plot(counts, found, marker="o", label="distinct patterns of n random filters")
right.axhline(exact.n_patterns_, color="black", linestyle="--", label="every pattern (exact)")
right.set_xscale("log", base=2)
right.set_xlabel("random filters drawn (n_patterns)")
right.set_ylabel("distinct activation patterns")
right.set_title("sampling finds the wide cells first")
right.legend(loc="center left")
plt.show()

# %%
# The sampled programs are restrictions of the exact one: their optima (printed above) are
# never below the exact optimum, and reach it once the sampled cells include those of the
# optimal filters, before every cell is found.
