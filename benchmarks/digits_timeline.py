"""Where a first fit of the README demo's model spends its wall time on two processes.

Usage::

    python benchmarks/digits_timeline.py [--runs R]

Each run is a fresh interpreter, as the README demo is: its fit starts the worker process, and
that start is part of what the demo measures. A run fits the demo's model (3x3 filters, 2x2
regions with their own output weights, 32 sampled patterns, ``beta=0.1``, one-vs-rest
logistic loss, ``n_jobs=2``) on the demo's 1347 training images, then fits it again in the
same process (the worker started), and prints, from the first fit's start:

* when the worker was ready (its interpreter, loky's bootstrap and the imports of NumPy,
  SciPy and the solvers; it then takes its first call);
* each class: the process that solved it, when it started and ended, its CPU time there;
* how long each process waited for the other at the end;
* the second fit's time.

The classes' times are wall-clock times (``time.time()``, shared by the processes), taken
around ``solve_in_worker`` in each process; the CPU times are each process's, its loky threads
included. Times vary from machine to machine: compare runs of one sitting.
"""

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time


def _timed(log_path, solve):
    """``solve`` (``solve_in_worker``), appending ``pid start end cpu label`` to ``log_path``
    in whichever process runs it (pickled by value into the worker: it lives in ``__main__``).
    It carries ``solve``'s module name, which the worker imports before it is ready, as it
    does for the fit's own calls (``_parallel._SharedCalls``)."""

    @functools.wraps(solve)
    def timed_solve(*args, label, **kwargs):
        start, cpu = time.time(), time.process_time()
        result = solve(*args, label=label, **kwargs)
        with open(log_path, "a") as log:
            log.write(f"{os.getpid()} {start} {time.time()} {time.process_time() - cpu} {label}\n")
        return result

    return timed_solve


def run_once():
    """One run (in this fresh interpreter): the two fits, printed."""
    from sklearn.base import clone
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    import sklearn_convexcnn._base as base
    import sklearn_convexcnn._parallel as parallel
    from sklearn_convexcnn import ConvexCNNClassifier

    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    clf = ConvexCNNClassifier(
        beta=0.1, input_shape=(8, 8), kernel_size=3, pool_size=3, readout="dense",
        n_patterns=32, loss="logistic", n_jobs=2, random_state=0,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        log_path = os.path.join(folder, "classes.log")
        base.solve_in_worker = _timed(log_path, base.solve_in_worker)
        ready = []
        on_ready = parallel._SharedCalls._ready

        def timed_ready(calls, future):
            ready.append(time.time())
            return on_ready(calls, future)

        parallel._SharedCalls._ready = timed_ready
        start = time.time()
        clone(clf).fit(X_train, y_train)
        first = time.time() - start
        with open(log_path) as log:
            rows = [line.rstrip("\n").split(maxsplit=4) for line in log]
        again = time.time()
        clone(clf).fit(X_train, y_train)
        second = time.time() - again

    print(f"first fit {first:.3f} s; the worker ready at {ready[0] - start:.3f} s")
    ends = {}
    for pid, begin, end, cpu, label in sorted(rows, key=lambda row: float(row[1])):
        who = "this process" if int(pid) == os.getpid() else "the worker  "
        ends[who] = float(end) - start
        print(
            f"  {who} {label}: {float(begin) - start:.3f} -> "
            f"{float(end) - start:.3f} s, {float(cpu):.3f} s CPU"
        )
    last = max(ends.values())
    waits = ", ".join(f"{who.strip()} {last - end:.3f} s" for who, end in ends.items())
    print(f"  waiting at the end: {waits}")
    print(f"second fit (the worker started) {second:.3f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_once()
        return
    for run in range(args.runs):
        print(f"run {run + 1}:", flush=True)
        subprocess.run([sys.executable, __file__, "--child"], check=True)


if __name__ == "__main__":
    main()
