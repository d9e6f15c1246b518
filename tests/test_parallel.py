"""Hyperparameter search beyond one process: joblib workers and a dask.distributed cluster."""

import itertools
import os
import pickle
import re
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
from joblib import Parallel, cpu_count, delayed, parallel_config
from loky import BrokenProcessPool
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_convexcnn import ConvexCNNClassifier, _base
from sklearn_convexcnn._parallel import (
    SHARED_MAX_BYTES,
    call_size,
    caller_takes_part,
    longest_first,
    run_calls,
    stop_workers,
    workers,
)


def _search():
    return GridSearchCV(
        ConvexCNNClassifier(input_shape=(8, 8), stride=2, n_patterns=8, random_state=0),
        {"beta": [0.01, 1.0]},
        cv=2,
        n_jobs=2,
    )


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(n_class=2, return_X_y=True)
    return X[:80] / 16, y[:80]


def test_grid_search_with_joblib_workers_matches_sequential(digits):
    X, y = digits
    parallel = _search().fit(X, y)
    sequential = _search().set_params(n_jobs=None).fit(X, y)
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"]
    )
    # the same models, not only the same scores
    assert parallel.best_params_ == sequential.best_params_
    assert parallel.best_estimator_.objective_ == pytest.approx(
        sequential.best_estimator_.objective_, rel=1e-12
    )


@pytest.mark.slow
def test_grid_search_on_a_dask_cluster(digits):
    distributed = pytest.importorskip("distributed")
    X, y = digits
    sequential = _search().set_params(n_jobs=None).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            processes=True,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with parallel_config(backend="dask"), distributed.get_task_stream(client) as stream:
            search = _search().fit(X, y)
        # the fits ran as tasks on the cluster's workers
        workers = {task["worker"] for task in stream.data}
        assert stream.data and workers <= set(client.scheduler_info()["workers"])
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"]
    )
    assert search.best_estimator_.objective_ == pytest.approx(
        sequential.best_estimator_.objective_, rel=1e-9
    )


# n_jobs inside one fit: one program per class (one-vs-rest) on joblib's worker processes


def _classifier(**params):
    return ConvexCNNClassifier(input_shape=(8, 8), stride=2, n_patterns=8, random_state=0, **params)


@pytest.fixture(scope="module")
def four_digits():
    X, y = load_digits(n_class=4, return_X_y=True)
    return X[:60] / 16, y[:60]


@pytest.fixture
def solved_here(monkeypatch):
    """The outputs solved in this process, one entry a solve: a worker's are not counted (it
    runs the module as imported), so that a test of workers can tell that one solved."""
    from sklearn_convexcnn import _outputs

    solved, solve_output = [], _outputs.solve_output

    def counted(program, y, label, *args, **kwargs):
        solved.append(label)
        return solve_output(program, y, label, *args, **kwargs)

    monkeypatch.setattr(_outputs, "solve_output", counted)
    return solved


def _ready_worker():
    """The shared calls' worker started, the solvers imported: it takes a fit's second output
    at once (a worker still importing took none of four small outputs, which this process
    had solved by then, and a test of the workers passed without them)."""
    workers(1).submit(exec, "import sklearn_convexcnn._outputs", {}).result()


def test_parallel_outputs_give_the_sequential_fit(four_digits, solved_here):
    X, y = four_digits
    # (solved in another order than the outputs', their results back in the outputs' order)
    assert list(longest_first(X, np.equal.outer(y, np.unique(y)))) != [0, 1, 2, 3]
    _ready_worker()
    parallel = _classifier(n_jobs=2).fit(X, y)
    assert 0 < len(solved_here) < 4  # (the others, the worker's)
    sequential = _classifier().fit(X, y)
    assert parallel.objective_ == sequential.objective_
    np.testing.assert_array_equal(parallel.filters_, sequential.filters_)
    np.testing.assert_array_equal(parallel.output_weights_, sequential.output_weights_)
    np.testing.assert_array_equal(parallel.predict(X), sequential.predict(X))


def test_warnings_of_worker_processes_reach_the_caller(four_digits, monkeypatch):
    # a warning raised in another process is lost unless the fit issues it again. The
    # worker's branch runs here, in this process: solve_in_worker sees another process id
    import types

    from sklearn_convexcnn import _outputs

    solve_native = _outputs.solve_native

    def warning(program, y, *args, **kwargs):
        message = f"raised in the worker of a program of {len(y)} targets"
        warnings.warn(message, UserWarning, stacklevel=2)
        return solve_native(program, y, *args, **kwargs)

    monkeypatch.setattr(_outputs, "solve_native", warning)
    monkeypatch.setattr(_outputs, "os", types.SimpleNamespace(getpid=lambda: -1))
    X, y = four_digits
    with pytest.warns(UserWarning, match="raised in the worker") as record:
        _classifier().fit(X, y)
    expected = "raised in the worker of a program of 60 targets"
    assert [str(w.message) for w in record] == [expected] * 4


def _stopped_outputs(record):
    """The outputs named by the one ConvergenceWarning of a fit whose solves all stopped."""
    (message,) = [str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)]
    assert message.startswith("The convex programs for 4 of 4 outputs did not converge")
    return sorted(int(output) for output in re.findall(r"[oO]utput (\d) \(class", message))


def test_one_warning_names_every_output_that_stopped(four_digits, solved_here):
    # ten one-vs-rest classes stopped at max_iter were ten warnings, each with the same advice
    X, y = four_digits
    with pytest.warns(ConvergenceWarning, match="did not converge") as record:
        _classifier(n_jobs=2, solver="clarabel", max_iter=2).fit(X, y)
    assert _stopped_outputs(record) == [0, 1, 2, 3]
    assert solved_here == []  # (CVXPY's programs: joblib's workers, each warning in its own)


def _blas_threads():
    return {p["filepath"]: p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_the_blas_threads_said_are_those_of_the_largest_blas_pool(monkeypatch):
    # _outputs.blas_threads, in verbose=2 lines: NumPy's and SciPy's BLAS libraries each keep
    # a pool, and the one that oversubscribes is the largest (OpenMP pools are no BLAS). A
    # mutant that said the smallest survived: every pool here has one thread
    from sklearn_convexcnn import _outputs

    pools = [
        {"user_api": "blas", "num_threads": 1},
        {"user_api": "blas", "num_threads": 4},
        {"user_api": "openmp", "num_threads": 8},
    ]
    monkeypatch.setattr(_outputs, "threadpool_info", lambda: pools)
    assert _outputs.blas_threads() == 4
    monkeypatch.setattr(_outputs, "threadpool_info", lambda: pools[2:])
    assert _outputs.blas_threads() == 1  # (no BLAS loaded: the one thread a call runs in)


def test_calls_run_here_alone_hold_one_blas_thread():
    # run_calls' promise for n_jobs=1 too, whoever calls it (not only a fit, which limits
    # BLAS threads itself): the native solver's factorizations beside NumPy's products
    with threadpool_limits(limits=2, user_api="blas"):
        raised = [path for path, threads in _blas_threads().items() if threads == 2]
        if not raised:
            pytest.skip("no BLAS library here can be given two threads")
        [inside] = run_calls([delayed(_blas_threads)()], 1, call_bytes=0)
        assert [inside[path] for path in raised] == [1] * len(raised)
        assert [_blas_threads()[path] for path in raised] == [2] * len(raised)


def test_workers_of_another_number_replace_the_last_ones():
    # the last executor is shut down, not left with its idle processes for 300 s
    first = workers(1)
    try:
        assert workers(1) is first
        second = workers(2)
        assert second is not first
        with pytest.raises(RuntimeError, match="shutdown"):
            first.submit(int)
    finally:
        stop_workers()


# in threads CVXPY's own warning is not silenced (_cvxpy._inaccurate_ignored)
@pytest.mark.filterwarnings("ignore:Solution may be inaccurate:UserWarning")
def test_the_threading_backend_leaves_warnings_and_blas_threads_alone(four_digits):
    # warnings.catch_warnings and threadpool_limits are process-wide: in threads, one
    # thread restoring the state another replaced silenced every later warning (a race)
    X, y = four_digits
    filters, show = list(warnings.filters), warnings.showwarning
    before = _blas_threads()
    for _ in range(3):
        with (
            parallel_config(backend="threading", n_jobs=2),
            pytest.warns(ConvergenceWarning, match="did not converge") as record,
        ):
            _classifier(n_jobs=2, solver="clarabel", max_iter=2).fit(X, y)
        assert _stopped_outputs(record) == [0, 1, 2, 3]
        assert list(warnings.filters) == filters and warnings.showwarning is show
    after = _blas_threads()  # (the solvers may load BLAS libraries of their own)
    assert {path: after[path] for path in before} == before
    # (not pytest.warns, which shows every warning whatever the filters say)
    with warnings.catch_warnings(record=True) as shown:
        warnings.warn("still shown", UserWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["still shown"]


_SOLVED_WITH_THREADS = (
    r"\[output \d \(class \d\)\] \[ConvexCNNClassifier\] objective .*, (\d+) BLAS thread"
)


def test_workers_do_not_oversubscribe_blas_threads(four_digits, capfd, solved_here):
    X, y = four_digits
    # workers started by earlier tests would print to the stdout they were started with
    stop_workers()
    # let joblib start each worker with a BLAS pool as large as the machine: the fit's own
    # limit must bring it down
    with parallel_config(backend="loky", inner_max_num_threads=cpu_count()):
        _ready_worker()
        _classifier(n_jobs=2, verbose=2).fit(X, y)
    assert len(solved_here) < 4  # (the others, the worker's)
    out = capfd.readouterr().out
    assert "4 outputs on 2 processes (this one and 1 worker(s)), one BLAS thread each" in out
    assert [int(t) for t in re.findall(_SOLVED_WITH_THREADS, out)] == [1, 1, 1, 1]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_every_process_that_solves_uses_one_blas_thread(four_digits, capfd, n_jobs, solved_here):
    # NumPy's and SciPy's OpenBLAS pools spun against each other: the README example took
    # 5.6 s on two cores with two threads in each, 1.35 s with one (_parallel.blas_limited);
    # a worker's share of the cores (8 threads each of 16 cores for n_jobs=2) is no better
    X, y = four_digits
    stop_workers()
    with threadpool_limits(limits=2, user_api="blas"):
        if n_jobs > 1:
            _ready_worker()
        before = _blas_threads()
        _classifier(n_jobs=n_jobs, verbose=2).fit(X, y)
        after = _blas_threads()  # (the solvers may load BLAS libraries of their own)
    assert {path: after[path] for path in before} == before
    assert (len(solved_here) == 4) == (n_jobs == 1)
    threads = [int(t) for t in re.findall(_SOLVED_WITH_THREADS, capfd.readouterr().out)]
    assert threads == [1, 1, 1, 1]


def test_fit_generation_and_certify_hold_one_blas_thread_throughout(four_digits, monkeypatch):
    # a review: patterns="generated" (its oracle's products and solves) and certify (its
    # re-solves) ran outside the limit, certify on 1000 digits in 32 s against 24 s, and
    # threads woken before the solves spun on beside them
    X, y = four_digits
    seen = {}

    def recording(name, function):
        def recorded(*args, **kwargs):
            seen.setdefault(name, []).append(max(_blas_threads().values()))
            return function(*args, **kwargs)

        return recorded

    for name in ("extract_patches", "generation_fit", "certify_network"):
        monkeypatch.setattr(_base, name, recording(name, getattr(_base, name)))
    with threadpool_limits(limits=2, user_api="blas"):
        clf = _classifier(patterns="generated").set_params(n_patterns=64).fit(X, y)
        clf.certify(X, y)
        assert max(_blas_threads().values()) == min(2, cpu_count())
    assert seen.keys() == {"extract_patches", "generation_fit", "certify_network"}
    assert {threads for calls in seen.values() for threads in calls} == {1}


def test_convex_cnn_path_solves_with_one_blas_thread(four_digits, monkeypatch):
    from sklearn_convexcnn import _path, convex_cnn_path

    X, y = four_digits
    seen, solve = [], _path.solve_native

    def recording(*args, **kwargs):
        seen.append(max(_blas_threads().values()))
        return solve(*args, **kwargs)

    monkeypatch.setattr(_path, "solve_native", recording)
    with threadpool_limits(limits=2, user_api="blas"):
        convex_cnn_path(X, np.where(y == 1, 1.0, -1.0), n_betas=2, random_state=0)
        assert max(_blas_threads().values()) == min(2, cpu_count())
    assert seen == [1, 1]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_progress_lines_of_each_output_name_it(four_digits, capfd, n_jobs, solved_here):
    # the workers' lines interleave; unlabelled, "[native] iteration 2" belonged to any class,
    # and one after another an output's iteration lines were named only by the line after
    X, y = four_digits
    stop_workers()  # (workers print where they were started)
    if n_jobs > 1:
        _ready_worker()
    _classifier(n_jobs=n_jobs, verbose=1).fit(X, y)
    assert (len(solved_here) == 4) == (n_jobs == 1)
    lines = capfd.readouterr().out.splitlines()
    solving = [line for line in lines if "[native]" in line or "] objective" in line]
    named = [
        re.match(r"\[output (\d) \(class (\d)\)\] \[(native|ConvexCNNClassifier)\] ", line)
        for line in solving
    ]
    assert None not in named
    # (each output's lines name its class too, as its warnings do)
    assert sorted({match[1] for match in named}) == ["0", "1", "2", "3"]
    assert all(match[2] == str(np.unique(y)[int(match[1])]) for match in named)
    # (the summary line is the fit's own)
    assert lines[-1].startswith("[ConvexCNNClassifier] fit: ")


def test_lines_of_output_leave_other_threads_stdout_alone(capsys):
    # sys.stdout is the process's: fits in threads restoring it in another order than they
    # replaced it would leave it prefixed for good
    import threading

    from sklearn_convexcnn._outputs import lines_of_output

    def fit_in_a_thread():
        with lines_of_output(1, n_outputs=2):
            print("from a thread")

    thread = threading.Thread(target=fit_in_a_thread)
    thread.start()
    thread.join()
    with lines_of_output(0, n_outputs=2):
        print("from the main thread")
    with lines_of_output(0, n_outputs=1):
        print("of the only output")
    assert capsys.readouterr().out == (
        "from a thread\n[output 0] from the main thread\nof the only output\n"
    )


def test_the_prefixed_stream_writes_every_line_once():
    import io

    from sklearn_convexcnn._outputs import _Prefixed

    out = io.StringIO()
    with _Prefixed(out, "[output 3] ") as stream:
        stream.write("a\nb")
        stream.write("c\n")
        stream.write("last, without its newline")
    assert out.getvalue() == "[output 3] a\n[output 3] bc\n[output 3] last, without its newline"
    assert not out.closed  # (the worker's stdout stays open)


def test_joblibs_memory_mapped_calls_end_cleanly_beside_this_packages_workers():
    # importing the standalone loky made its start method multiprocessing's "loky" in place
    # of joblib's copy's: joblib's memory-mapped arrays were then registered with one resource
    # tracker and released in the other, which printed KeyErrors and "leaked file objects" at
    # the exit of any process that had imported the estimators (a review)
    script = textwrap.dedent(
        """
        import numpy as np
        from joblib import Parallel, delayed
        from sklearn.datasets import load_digits

        from sklearn_convexcnn import ConvexCNNClassifier

        X, y = load_digits(return_X_y=True)
        ConvexCNNClassifier(
            input_shape=(8, 8), stride=2, n_patterns=8, random_state=0, n_jobs=2
        ).fit(X[:100] / 16, y[:100])
        big = np.ones((2000, 100))  # (above joblib's 1 MB: memory-mapped for its workers)
        # (as floats: NumPy 2 prints its scalars as np.float64(...), NumPy 1 as numbers)
        print([float(v) for v in Parallel(n_jobs=2)(delayed(np.sum)(big) for _ in range(2))])
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[200000.0, 200000.0]"
    assert "Traceback" not in done.stderr and "leaked" not in done.stderr, done.stderr


def test_workers_solve_without_importing_scikit_learn_or_joblib():
    # importing scikit-learn was over half of a worker's start (2.3 s against 1.1 s for two
    # workers), paid by the README demo's fit: the workers get the solve's options, not the
    # estimator. joblib's copy of loky imports joblib in its workers and resource tracker,
    # the standalone loky does not (_parallel). A fresh interpreter, so that the worker asked
    # is the fit's own.
    script = textwrap.dedent(
        """
        from sklearn.datasets import load_digits

        from sklearn_convexcnn import ConvexCNNClassifier
        from sklearn_convexcnn._parallel import workers

        workers(1).submit(int).result()  # (started: it takes calls from the fit's first)
        X, y = load_digits(return_X_y=True)
        ConvexCNNClassifier(
            input_shape=(8, 8), stride=2, n_patterns=8, random_state=0, n_jobs=2
        ).fit(X[:100] / 16, y[:100])

        def imported():
            import sys

            return (
                "sklearn" in sys.modules,
                "joblib" in sys.modules,
                "sklearn_convexcnn._solvers._native" in sys.modules,
            )

        print(workers(1).submit(imported).result())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    # (the worker that solved classes, without scikit-learn or joblib)
    assert out.strip() == "(False, False, True)"


# joblib would start n_jobs workers and leave this process waiting while they import NumPy and
# SciPy (the README demo's first second); here it solves too, with n_jobs - 1 workers


def _pids(n_calls, n_jobs=2, call_bytes=0):
    return run_calls([delayed(os.getpid)() for _ in range(n_calls)], n_jobs, call_bytes=call_bytes)


def _started_by(seconds):
    started = time.time()
    time.sleep(seconds)
    return os.getpid(), started


def test_calls_start_in_their_order_here_and_in_the_workers():
    # (given the longest first, they end together)
    worker, _ = workers(1).submit(_started_by, 0).result()  # (started, this module imported)
    results = run_calls([delayed(_started_by)(0.3) for _ in range(6)], 2, call_bytes=0)
    pids, starts = zip(*results, strict=True)
    assert set(pids) == {os.getpid(), worker}
    # each call started before the next, but for a hand-over to a worker (milliseconds; the
    # calls are 0.3 s apart: taken from the back here, a call started 0.3 s after the next)
    assert all(start < later + 0.2 for start, later in itertools.pairwise(starts))


def test_a_new_worker_takes_a_call_once_it_has_imported_the_calls_module(tmp_path, monkeypatch):
    # a worker took a call as soon as it had started, then imported the solvers for it (0.34
    # s) while this process went on with the later calls (a review): here a module that
    # takes a second to import
    (tmp_path / "slowly_imported.py").write_text(
        "import os, time\n"
        "time.sleep(1.0)\n"
        "def started_by(seconds):\n"
        "    started = time.time()\n"
        "    time.sleep(seconds)\n"
        "    return os.getpid(), started\n"
    )
    monkeypatch.syspath_prepend(tmp_path)  # (for the workers started from now on too)
    from slowly_imported import started_by

    stop_workers()
    results = run_calls([delayed(started_by)(0.2) for _ in range(12)], 2, call_bytes=0)
    pids, starts = zip(*results, strict=True)
    assert len(set(pids)) == 2
    assert all(start < later + 0.1 for start, later in itertools.pairwise(starts))


def test_calls_whose_module_a_worker_cannot_import_still_reach_it():
    # the readiness call imports the calls' module; where that failed, the worker never took
    # a call, and this process solved them all (a review): functions pickled by value run
    def slept_in():
        time.sleep(0.3)
        return os.getpid()

    slept_in.__module__ = "no_module_of_this_name"
    workers(1).submit(_started_by, 0).result()  # (started, this module imported)
    assert len(set(run_calls([delayed(slept_in)() for _ in range(8)], 2, call_bytes=0))) == 2


def test_outputs_explained_least_by_the_samples_come_first():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 5))
    linear, noise = X @ rng.standard_normal(5), rng.standard_normal(20_000)
    Y = np.column_stack([linear, 5 + 3 * noise, linear + noise, 2 * linear + noise])
    assert list(longest_first(X, Y)) == [1, 2, 3, 0]
    # a constant output (the empty network, at once) last; one output alone
    assert list(longest_first(X, np.column_stack([np.ones(20_000), linear]))) == [1, 0]
    assert list(longest_first(X, linear[:, None])) == [0]
    # at the largest scale the estimators accept (MAX_DATA_SCALE) the same order, without
    # an overflow (squared correlations overflowed here)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(longest_first(1e75 * X, 1e75 * Y)) == [1, 2, 3, 0]


def test_no_call_waits_for_a_worker_that_is_starting():
    # a call kept for a starting worker left this process waiting 0.7 s for it, in a fit
    # whose other calls took 0.05 s (a review)
    stop_workers()
    assert _pids(4) == [os.getpid()] * 4


def test_any_other_backend_or_large_calls_go_to_joblib():
    assert caller_takes_part(2, 0) and not caller_takes_part(1, 0)
    with parallel_config(backend="threading"):
        assert not caller_takes_part(2, 0)
        assert _pids(4) == [os.getpid()] * 4
    # joblib memory-maps large arrays for its workers once; this module would pickle them
    large = SHARED_MAX_BYTES + 1
    assert not caller_takes_part(2, large)
    assert os.getpid() not in _pids(4, call_bytes=large)
    # in joblib's workers (GridSearchCV's, say), joblib's nested backend decides
    assert Parallel(n_jobs=2)(delayed(caller_takes_part)(2, 0) for _ in range(2)) == [False] * 2


def test_calls_of_exactly_the_shared_limit_are_solved_here_too():
    # "at most" SHARED_MAX_BYTES: the limit itself is shared, a byte more goes to joblib
    assert caller_takes_part(2, SHARED_MAX_BYTES)
    assert not caller_takes_part(2, SHARED_MAX_BYTES + 1)


def test_a_loky_backend_configured_inside_joblibs_workers_still_goes_to_joblib():
    # parallel_config(backend="loky") in a worker gives a LokyBackend of nesting level 1:
    # joblib's nested call, not this module's workers, one set per worker of an outer search
    def nested():
        with parallel_config(backend="loky"):
            return caller_takes_part(2, 0)

    assert Parallel(n_jobs=2)(delayed(nested)() for _ in range(2)) == [False] * 2


@pytest.mark.parametrize("solver, shared", [("native", True), ("clarabel", False)])
def test_programs_solved_by_cvxpy_go_to_joblibs_workers(four_digits, capfd, solver, shared):
    X, y = four_digits
    _classifier(n_jobs=2, solver=solver, verbose=1).fit(X, y)
    out = capfd.readouterr().out
    assert ("4 outputs on 2 processes (this one and 1 worker(s))" in out) == shared
    assert ("4 outputs on 2 workers" in out) == (not shared)


@pytest.mark.parametrize("pooling", ["average", "max"])
def test_a_fit_counts_the_bytes_its_calls_send(four_digits, monkeypatch, pooling):
    # the count decides where the calls are solved (SHARED_MAX_BYTES); max pooling's dense
    # program was counted as its patches once, 1/65 of it on a review's larger problem
    sent = []

    def counted_calls(calls, n_jobs, *, call_bytes):
        sent.append((call_bytes, [len(pickle.dumps(call)) for call in calls]))
        return run_calls(calls, n_jobs, call_bytes=call_bytes)

    monkeypatch.setattr(_base, "run_calls", counted_calls)
    # (64 patterns of 9 patches: max pooling's program is 7 times its patches)
    _classifier(n_jobs=2, pooling=pooling).set_params(n_patterns=64).fit(*four_digits)
    [(counted, pickled)] = sent
    assert min(pickled) * 0.95 <= counted <= max(pickled) * 1.05


def test_a_call_is_sized_as_loky_pickles_it():
    # by cloudpickle, which takes functions defined in other functions by value: the standard
    # pickle refused benchmarks/digits_timeline.py's wrapped solve
    def local(values):
        return values

    values = np.zeros(1000)
    assert values.nbytes <= call_size(delayed(local)(values)) <= values.nbytes + 4000


def _with_a_failure(position, n_calls=2):
    calls = [delayed(os.getpid)() for _ in range(n_calls)]
    calls[position] = delayed(int)("not a number")
    return calls


def test_an_error_in_this_process_is_raised_and_new_workers_take_the_next_calls():
    from sklearn_convexcnn import _parallel

    before = workers(1).submit(os.getpid).result()
    with pytest.raises(ValueError, match="invalid literal"):
        run_calls(_with_a_failure(0), n_jobs=2, call_bytes=0)
    assert _parallel._workers is None  # (stopped amid their calls, as joblib stops its own)
    assert workers(1).submit(os.getpid).result() not in (before, os.getpid())


def _failing_in_a_worker():
    raise ValueError(f"failed in process {os.getpid()}")


def _two_running_workers():
    """The process ids of the two workers, both started."""
    executor = workers(2)
    for _ in range(20):  # (both started: a call each at once, and not both on one)
        pids = {f.result()[0] for f in [executor.submit(_started_by, 0.5) for _ in range(2)]}
        if len(pids) == 2:
            return pids
    pytest.fail("the second worker never took a call")


def test_a_workers_error_is_raised_without_waiting_for_the_others_calls():
    # with n_jobs >= 3, the error waited for the calls submitted before the failing one (a
    # review): here a 30 s call on the other worker
    from sklearn_convexcnn import _parallel

    before = _two_running_workers()
    calls = [delayed(time.sleep)(1.0), delayed(time.sleep)(30), delayed(_failing_in_a_worker)()]
    start = time.perf_counter()
    with pytest.raises(ValueError, match="failed in process") as raised:
        run_calls(calls, n_jobs=3, call_bytes=0)
    assert time.perf_counter() - start < 20
    assert str(os.getpid()) not in str(raised.value)  # (a worker's error)
    assert _parallel._workers is None  # (the 30 s call's worker stopped amid it)
    assert workers(2).submit(os.getpid).result() not in before | {os.getpid()}


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
@pytest.mark.parametrize("after", [0.0, 0.2])  # (before and after the worker took a call)
def test_an_error_here_stops_the_workers_at_once(error, after, monkeypatch):
    import time

    from sklearn_convexcnn import _parallel

    # killing a pool amid a call that loky had not yet taken made loky's thread fail on a
    # KeyError (a review; in scripts, every time the error came at once): the workers are
    # stopped once every call submitted is running or done
    shared, taken = [], []
    stop_submitting, stop_workers = _parallel._SharedCalls._stop_submitting, _parallel.stop_workers

    def spied_stop_submitting(self):
        shared.append(self)
        return stop_submitting(self)

    def spied_stop_workers(kill=False):
        futures = [f for _, f in shared[-1].submitted] + shared[-1].readies
        taken.append(all(f.running() or f.done() for f in futures))
        stop_workers(kill)

    monkeypatch.setattr(_parallel._SharedCalls, "_stop_submitting", spied_stop_submitting)
    monkeypatch.setattr(_parallel, "stop_workers", spied_stop_workers)

    def failing():
        if after:  # (time.sleep(0) would let loky's thread take the calls)
            time.sleep(after)
        raise error("here")

    workers(1).submit(os.getpid).result()
    start = time.perf_counter()
    with pytest.raises(error, match="here"):
        run_calls([(failing, (), {}), delayed(time.sleep)(30)], 2, call_bytes=0)
    assert time.perf_counter() - start < 20  # (not after the worker's call: it was killed)
    assert _parallel._workers is None
    assert taken == [True]
    assert workers(1).submit(os.getpid).result() != os.getpid()


@pytest.mark.parametrize("error", [KeyboardInterrupt, TimeoutError])
def test_an_interrupt_while_waiting_for_the_workers_stops_them(error):
    # where a user presses Ctrl-C on a long fit, this process has often solved its share and
    # waits: the workers went on with the abandoned calls, and the next fit queued behind
    # them (a review); so too where a signal handler raised another error (a later review:
    # a SIGALRM timeout's TimeoutError left the worker on its call)
    import signal
    import threading

    from sklearn_convexcnn import _parallel

    def raise_error(*_):
        raise error("interrupted")

    workers(1).submit(os.getpid).result()
    previous = signal.signal(signal.SIGUSR1, raise_error)
    interrupt = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGUSR1))
    interrupt.start()
    start = time.perf_counter()
    try:
        with pytest.raises(error):
            # (this process's call long enough for the worker to take the other: the
            # signal comes while this process waits for it)
            run_calls([delayed(time.sleep)(0.5), delayed(time.sleep)(30)], 2, call_bytes=0)
    finally:
        interrupt.cancel()
        signal.signal(signal.SIGUSR1, previous)
    assert time.perf_counter() - start < 20
    assert _parallel._workers is None
    assert workers(1).submit(os.getpid).result() != os.getpid()


def _exit_in_a_worker(caller):
    if os.getpid() != caller:  # (were the call this process's, pytest would end)
        os._exit(1)


def test_a_worker_that_died_is_replaced():
    # the pool stays broken: the next fit failed with the old error (a review)
    import time

    def slowly():  # (this process's call, the first: the worker's is the second)
        time.sleep(0.5)

    workers(1).submit(_started_by, 0).result()  # (started, this module imported)
    with pytest.raises(BrokenProcessPool):
        calls = [(slowly, (), {}), delayed(_exit_in_a_worker)(os.getpid())]
        run_calls(calls, 2, call_bytes=0)
    assert workers(1).submit(os.getpid).result() != os.getpid()


def test_a_worker_killed_between_fits_is_replaced():
    import signal
    import time

    pid = workers(1).submit(os.getpid).result()
    os.kill(pid, signal.SIGKILL)  # (as the kernel's out-of-memory killer would)
    time.sleep(1)  # (for loky to see it)
    assert _pids(3) == [os.getpid()] * 3  # (the new worker is still starting)
    assert workers(1).submit(os.getpid).result() not in (pid, os.getpid())


def test_a_forked_child_solves_with_workers_of_its_own():
    # the child held a copy of the parent's executor, without its thread or its workers: it
    # solved every call alone, while verbose said two processes (a review)
    script = textwrap.dedent(
        """
        import os
        import time

        from joblib import delayed

        from sklearn_convexcnn._parallel import run_calls, stop_workers, workers

        def slept_in():
            time.sleep(0.5)
            return os.getpid()

        workers(1).submit(os.getpid).result()
        child = os.fork()
        if child == 0:
            pids = run_calls([delayed(slept_in)() for _ in range(8)], 2, call_bytes=0)
            print(len(set(pids)), flush=True)
            stop_workers()  # (os._exit skips the exit handlers that would)
            os._exit(0)
        os.waitpid(child, 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"  # (the child and its worker)


@pytest.mark.parametrize("parent_fitted", [False, True])
def test_a_multiprocessing_child_that_used_workers_ends_at_once(parent_fitted):
    # multiprocessing's exit joins a process's children before loky's exit handler stops the
    # workers: a child that had fitted with n_jobs=2 ended after the workers' idle timeout,
    # 300 s (a review). So too where its parent had fitted first: a mutant that registered
    # the stop once, in the first process to use workers and not in each, survived
    script = textwrap.dedent(
        f"""
        import multiprocessing
        import time

        from joblib import delayed

        from sklearn_convexcnn._parallel import run_calls

        def fit():
            run_calls([delayed(time.sleep)(0.5) for _ in range(4)], 2, call_bytes=0)

        if __name__ == "__main__":
            if {parent_fitted}:
                fit()
            child = multiprocessing.get_context("fork").Process(target=fit)
            child.start()
            child.join(30)
            print(child.exitcode, flush=True)
            if child.is_alive():
                child.kill()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"  # (not None: still running after 30 s)


def test_a_forked_child_never_frees_the_parents_executor():
    # freed in the child, the executor ran loky's callback on its lock, a copy of the
    # parent's: held at the fork by another thread (here this one, as loky's own hold it in
    # submit), the child hung for good (a review)
    script = textwrap.dedent(
        """
        import gc
        import os
        import threading
        import time

        from joblib import delayed

        from sklearn_convexcnn import _parallel

        _parallel.run_calls([delayed(time.sleep)(0.1) for _ in range(4)], 2, call_bytes=0)
        children = []

        def fork():
            child = os.fork()
            if child == 0:
                gc.collect()
                os._exit(0)
            children.append(child)

        with _parallel._workers[0]._shutdown_lock:
            thread = threading.Thread(target=fork)
            thread.start()
            thread.join()
        for _ in range(100):
            ended, status = os.waitpid(children[0], os.WNOHANG)
            if ended:
                print("ended", status)
                break
            time.sleep(0.1)
        else:
            os.kill(children[0], 9)
            print("hung")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ended 0"


# Found unpinned by a mutation pass on _parallel.py (each test names the mutant it kills)


def _alive(pid):
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _ended_within(pid, seconds):
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def test_a_fit_in_another_thread_leaves_its_calls_to_joblib():
    # the BLAS limit is process-wide and set from the main thread only (blas_limited): a
    # mutant that let other threads take part too survived
    taken = []
    thread = threading.Thread(target=lambda: taken.append(caller_takes_part(2, 0)))
    thread.start()
    thread.join()
    assert taken == [False]
    assert caller_takes_part(2, 0)


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_idle_workers_end_after_the_idle_timeout(monkeypatch):
    # as joblib's do; a mutant that never gave loky the timeout kept them for good
    from sklearn_convexcnn import _parallel

    stop_workers()
    monkeypatch.setattr(_parallel, "IDLE_WORKER_TIMEOUT", 1)
    try:
        pid = workers(1).submit(os.getpid).result()
        assert _ended_within(pid, 15)
    finally:
        stop_workers()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_stopped_workers_have_ended_when_stop_workers_returns():
    # (a mutant that did not wait for them survived)
    pid = workers(1).submit(os.getpid).result()
    stop_workers()
    assert not _alive(pid)


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_an_error_here_kills_the_worker_amid_its_call():
    # not left to finish its 30 s call after the error, nor waited for: mutants that shut the
    # pool down without killing its workers, or waited for the workers' calls to end and not
    # only to be taken (a second), survived the tests of the error's timing
    worker, _ = workers(1).submit(_started_by, 0).result()  # (started, this module imported)

    def failing():
        time.sleep(0.5)  # (the worker has taken its call)
        raise ValueError("here")

    start = time.perf_counter()
    with pytest.raises(ValueError, match="here"):
        run_calls([(failing, (), {}), delayed(time.sleep)(30)], 2, call_bytes=0)
    assert time.perf_counter() - start < 1.3
    assert _ended_within(worker, 10)


def test_a_worker_takes_the_next_call_whenever_it_is_free():
    # not one call a worker: a mutant whose workers took no call after their first survived
    # (this process solved the rest, in their order)
    worker, _ = workers(1).submit(_started_by, 0).result()  # (started, this module imported)
    results = run_calls([delayed(_started_by)(0.2) for _ in range(8)], 2, call_bytes=0)
    assert [pid for pid, _ in results].count(worker) >= 3


_ran_here = []


def _recorded(position, seconds):
    _ran_here.append(position)  # (in this process's list where it runs here)
    time.sleep(seconds)


def test_after_a_workers_error_this_process_takes_no_further_call():
    # the error is raised once this process's running call has returned, not after the calls
    # left: a mutant that went on with them survived (with n_jobs=3 no call was left)
    workers(1).submit(_started_by, 0).result()  # (started, this module imported)
    _ran_here.clear()
    calls = [delayed(_recorded)(0, 1.0), delayed(_failing_in_a_worker)()]
    calls += [delayed(_recorded)(position, 0.2) for position in range(2, 8)]
    with pytest.raises(ValueError, match="failed in process"):
        run_calls(calls, 2, call_bytes=0)
    assert _ran_here == [0]


def test_a_call_is_sized_with_what_it_sends_in_band():
    # a call without arrays is its pickle alone: a mutant that counted the out-of-band
    # buffers only said 0 bytes, and a call of any size was solved here
    text = "x" * 100_000
    assert 100_000 <= call_size(delayed(len)(text)) <= 100_000 + 4000


def test_a_constant_output_is_ordered_without_a_warning():
    # (a fit of a constant target column warned "invalid value encountered in divide" from
    # this module in a mutant that divided it by its norm of zero)
    X = np.random.default_rng(0).standard_normal((50, 3))
    Y = np.column_stack([np.ones(50), X[:, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(longest_first(X, Y)) == [1, 0]


def test_a_call_a_broken_pool_refuses_is_left_to_this_process():
    # a pool that breaks between a worker's two calls refuses the next: that call stays
    # first in the queue, for this process (a mutant that dropped it returned None for it).
    # Private: no public path breaks a pool at that moment
    from sklearn_convexcnn._parallel import _SharedCalls

    class BrokenExecutor:
        def submit(self, *args, **kwargs):
            raise BrokenProcessPool("a worker died")

    shared = _SharedCalls([delayed(int)(position) for position in range(3)], n_workers=1)
    shared.executor = BrokenExecutor()
    shared._submit_next()
    assert list(shared.waiting) == [0, 1, 2]
    assert shared.submitted == []


def test_a_worker_that_died_before_its_first_call_is_replaced(tmp_path, monkeypatch):
    # this process then solves every call, and the broken pool is replaced once they have
    # returned: mutants that left it for the next caller to find broken survived. The
    # worker dies importing the calls' module (its readiness call)
    (tmp_path / "ends_its_importer.py").write_text("import os\nos._exit(1)\n")
    monkeypatch.syspath_prepend(tmp_path)  # (for the workers started from now on too)

    def slept_in():
        time.sleep(0.3)
        return os.getpid()

    slept_in.__module__ = "ends_its_importer"  # (pickled by value all the same)
    stop_workers()
    workers(1).submit(int).result()  # (started: it dies at once on the readiness call)
    assert run_calls([delayed(slept_in)() for _ in range(4)], 2, call_bytes=0) == [os.getpid()] * 4
    assert workers(1).submit(os.getpid).result() != os.getpid()


def test_no_call_is_submitted_once_submitting_has_stopped():
    # on an error, the calls submitted are collected and the workers stopped: a worker that
    # finished a call meanwhile took the next (a mutant that kept the queue survived). Private:
    # the window between the two is too short to catch through run_calls
    from concurrent.futures import Future

    from sklearn_convexcnn._parallel import _SharedCalls

    class Recording:
        def __init__(self):
            self.calls = []

        def submit(self, function, *args, **kwargs):
            self.calls.append(args)
            return Future()

    shared = _SharedCalls([delayed(int)(position) for position in range(3)], n_workers=1)
    shared.executor = Recording()
    assert shared._stop_submitting() == []
    shared._submit_next()
    assert shared.executor.calls == []
    assert shared._take_next() is None  # (nor here)


def test_threads_of_a_worker_process_record_their_own_warnings(monkeypatch):
    # a dask worker runs its tasks in threads, and recording warnings is the process's state:
    # two outputs' solves interleaved there (the first to enter leaving first) took each
    # other's warnings and left the worker's warnings silenced for good. The worker's branch
    # runs here, in this process: solve_in_worker sees another process id
    import types

    from sklearn_convexcnn import _outputs

    first_inside, second_inside = threading.Event(), threading.Event()

    def solve(program, y, label, *args):
        if label == "first":
            first_inside.set()
            second_inside.wait(timeout=1.0)  # (where the solves are serialized: never set)
        else:
            second_inside.set()
        warnings.warn(f"raised by the {label} output", UserWarning, stacklevel=1)
        return label

    monkeypatch.setattr(_outputs, "solve_and_finish", solve)
    monkeypatch.setattr(_outputs, "os", types.SimpleNamespace(getpid=lambda: -1))
    caught = {}

    def output(label):
        caught[label] = _outputs.solve_in_worker(None, None, 1, None, None, {}, None, 0, label)

    shown = warnings._showwarnmsg_impl  # (where the process's warnings go: pytest's record)
    first = threading.Thread(target=output, args=("first",))
    first.start()
    first_inside.wait(timeout=5.0)
    second = threading.Thread(target=output, args=("second",))
    second.start()
    for thread in (first, second):
        thread.join(timeout=10.0)
    for label in ("first", "second"):
        finished, recorded = caught[label]
        assert finished == label
        assert [str(message) for message, _ in recorded] == [f"raised by the {label} output"]
    # the process's warnings go where they went: not into a finished output's list
    assert warnings._showwarnmsg_impl is shown
