"""
==================================
Pooling is an implicit regularizer
==================================

In the convex program of a CNN, the pooling layer is not a detail of the architecture: it
decides which functions the network can represent cheaply, that is, it *is* a regularizer
(Ergen & Pilanci, 2021). Global average or max pooling makes the output blind to where a
pattern occurs; pooling into regions with one output weight per region
(``pool_size=..., readout="dense"``) keeps coarse positions; no pooling gives every patch its
own output weight.

Two generated tasks on the same 1-D signals (length 20, a short motif at a random position, plus
noise) make the point:

* **which motif** is in the signal (a peak or an edge): translation invariant, so global pooling
  is the right prior;
* **where** the peak is (left or right half): global pooling cannot see it at all, while regional
  pooling and no pooling can.

Every model is a two-layer ReLU CNN with filters of length 3, trained to the global optimum of
its convex program over 32 sampled activation patterns.
"""

# %%
# Two tasks on the same kind of signal
# ------------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np

from sklearn_convexcnn import ConvexCNNClassifier

length, n_train, n_test = 20, 120, 400
motifs = {"peak": np.array([0.5, 1.0, 0.5]), "edge": np.array([-1.0, 0.0, 1.0])}


def signals(n, task, rng):
    """Signals with one motif; labels: which motif, or which half the peak is in."""
    X = 0.3 * rng.standard_normal((n, length))
    labels = rng.integers(0, 2, n)
    for i, label in enumerate(labels):
        # a motif has length 3, so it starts at 0 to length - 3 (integers excludes its end)
        if task == "which motif":
            motif, start = motifs["peak" if label else "edge"], rng.integers(0, length - 2)
        else:  # where: left half (0) or right half (1)
            # the peak starts at 0..7 (it lies in positions 0..9) or at 10..17 (in 10..19)
            motif, start = motifs["peak"], rng.integers(0, 8) + 10 * label
        X[i, start : start + 3] += motif
    return X, labels


poolings = {
    "global average": dict(pooling="average"),
    "global max": dict(pooling="max"),
    # a signal of length 20 has 20 - 3 + 1 = 18 patches: pools of 6 patches make 3 regions
    "average, 3 regions": dict(pooling="average", pool_size=6, readout="dense"),
    "none (per patch)": dict(pooling="none"),
}
rng = np.random.default_rng(0)
scores, widths = {}, {}
start = time.perf_counter()
for task in ("which motif", "where"):
    X_train, y_train = signals(n_train, task, rng)
    X_test, y_test = signals(n_test, task, rng)
    for name, params in poolings.items():
        # tol=1e-6 (looser than the default 1e-7): comparing accuracies needs no more
        clf = ConvexCNNClassifier(
            beta=0.5, kernel_size=3, n_patterns=32, tol=1e-6, random_state=0, **params
        ).fit(X_train, y_train)
        scores[task, name] = clf.score(X_test, y_test)
        widths[task, name] = clf.filters_.shape[0]
        print(
            f"{task:12s} {name:20s} test accuracy {scores[task, name]:.3f}, "
            f"{widths[task, name]} neurons"
        )
print(f"8 fits in {time.perf_counter() - start:.1f} s")

# %%
# Accuracy and width of the optimal network
# -----------------------------------------
# For *which motif*, global max pooling is the best prior here and no pooling the worst: a
# model that must learn the motif separately at every position needs many more neurons (and
# data) for the same function. For *where*, both global poolings are near chance, since the
# pooled value is nearly the same wherever the peak is, while regional pooling and no pooling
# solve it. The data did not change, only the architecture, that is, the penalty of the
# convex program and with it the functions that are cheap to fit.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
names = list(poolings)
for offset, task in zip((-0.2, 0.2), ("which motif", "where"), strict=True):
    position = np.arange(len(names)) + offset
    left.bar(position, [scores[task, n] for n in names], width=0.4, label=task)
    right.bar(position, [widths[task, n] for n in names], width=0.4, label=task)
left.axhline(0.5, color="black", linestyle=":", label="chance")
left.set_ylabel("test accuracy")
left.set_ylim(0, 1.2)
left.set_title("test accuracy by pooling")
right.set_ylabel("neurons of the optimal network")
right.set_title("width of the optimal network")
for ax in (left, right):
    ax.set_xticks(range(len(names)), names, rotation=15)
left.legend(loc="upper center", ncols=3)  # the two tasks and chance, in one row above the bars
right.legend(loc="upper left")
fig.tight_layout()

# %%
# A few signals of each task
# --------------------------
# Four generated signals per task, coloured by class.
fig, axes = plt.subplots(1, 2, figsize=(10, 2.8), sharey=True)
for ax, task in zip(axes, ("which motif", "where"), strict=True):
    X_show, y_show = signals(4, task, np.random.default_rng(1))
    for i, (x, label) in enumerate(zip(X_show, y_show, strict=True)):
        name = ("edge", "peak")[label] if task == "which motif" else ("left", "right")[label]
        # one legend entry per class, not per signal (the "_" labels are left out)
        first = label not in y_show[:i]
        ax.plot(x, marker=".", color=f"C{label}", label=f"class {label} ({name})" if first else "_")
    ax.set_title(f"task: {task}")
    ax.set_xlabel("position")
    ax.legend(fontsize=8)
axes[0].set_ylabel("signal")
fig.tight_layout()
plt.show()
