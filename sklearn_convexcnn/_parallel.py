"""The outputs' solves on ``n_jobs`` processes: this one and ``n_jobs - 1`` workers.

joblib's ``Parallel`` starts ``n_jobs`` worker processes and leaves the calling process waiting
for them. A worker's start is mostly importing NumPy and SciPy, half a second to a second of
CPU time, so on two cores the README demo's first fit spent that long solving nothing. Here the
calling process solves outputs as ``n_jobs - 1`` workers do, each taking the next in the list
when it is free: one start fewer, and the calling process solves from the start
(benchmarks/digits_history.md, "The fitting process solves too").

The first call is this process's. Once no call is left, a process waits at most for the rest
of another's running call: given the longest first, the calls running at the end are the
shortest (list scheduling, longest processing time first). :func:`longest_first` guesses that
order for the outputs of a fit.

That is done only with joblib's default, process-based backend (loky), outside joblib's own
workers, from the main thread (the BLAS threads of this process are limited while it solves,
a process-wide setting), and for calls that send little data (:data:`SHARED_MAX_BYTES`). Any
other backend (``parallel_config(backend="threading")``, dask), a nested call (in
GridSearchCV's workers joblib runs it with threads), a fit in a thread or a larger program
goes to joblib's ``Parallel`` as it is.
"""

import collections
import concurrent.futures
import contextlib
import functools
import multiprocessing.context
import multiprocessing.util
import os
import threading
import time

import cloudpickle
import numpy as np
from joblib import Parallel
from joblib._parallel_backends import LokyBackend  # (private: what joblib would use here)
from joblib.externals.loky.backend import context as joblib_loky_context
from joblib.parallel import get_active_backend
from loky import BrokenProcessPool, ProcessPoolExecutor
from loky.backend.context import LokyContext
from threadpoolctl import threadpool_limits

# Importing the standalone loky registers its start method as multiprocessing's "loky", over
# joblib's copy's: joblib's workers, started by it, then register their memory-mapped arrays
# with the standalone loky's resource tracker, and joblib's tracker prints KeyErrors and "leaked
# file objects" at the exit of any process that has imported the estimators (a GridSearchCV
# of Ridge, say). joblib gets its own back; the executor here is given this one.
multiprocessing.context._concrete_contexts.update(
    loky=joblib_loky_context.ctx_loky,
    loky_init_main=joblib_loky_context.LokyInitMainContext(),
)
_LOKY_CONTEXT = LokyContext()

# Seconds a worker waits for a call before it ends, as joblib's do by default.
IDLE_WORKER_TIMEOUT = 300

# The most bytes that a call may send (:func:`call_size`) for this process to take part. Above,
# joblib's workers, to which joblib memory-maps large arrays once where this module's executor
# pickles them to every call: 3.5 ms a MiB on the development machine, 0.11 s a call at 32 MiB,
# against the 0.2-0.4 s that one worker fewer saved the README demo's first fit (whose calls
# send 6.9 MiB: the patches in the operator's rows and again for the certificate).
SHARED_MAX_BYTES = 8 * 2**20

_workers = None  # (executor, number of workers) of the last shared calls
_workers_lock = threading.Lock()
_stopped_at_exit_of = None  # (the process whose multiprocessing exit stops its workers)
_parents_workers = []  # (in a forked child, its copies of them: never freed, see below)


def _forget_parents_workers():
    # a forked child holds a copy of the parent's executor without its thread or its
    # workers: its calls would never be taken, and the child would solve them all alone.
    # The copy stays referenced: freed, it would run loky's callback on a lock copied from
    # the parent, which another of its threads may have held at the fork
    global _workers, _workers_lock
    _parents_workers.append(_workers)
    _workers, _workers_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_parents_workers)


def caller_takes_part(n_jobs, call_bytes):
    """Whether :func:`run_calls` solves in this process as well as in ``n_jobs - 1`` workers,
    for calls that send ``call_bytes`` each (:func:`call_size`)."""
    backend, _ = get_active_backend()
    return (
        n_jobs > 1
        and call_bytes <= SHARED_MAX_BYTES
        and isinstance(backend, LokyBackend)
        and not backend.nesting_level
        and threading.current_thread() is threading.main_thread()
    )


def run_calls(calls, n_jobs, *, call_bytes):
    """The results of ``calls`` (joblib ``delayed`` triples) in their order, ``n_jobs`` at a
    time, started in that order, this process's share with one BLAS thread
    (:func:`blas_limited`); each call sends ``call_bytes`` (:func:`call_size`; module
    docstring)."""
    if n_jobs == 1:
        with blas_limited():
            return [function(*args, **kwargs) for function, args, kwargs in calls]
    if not caller_takes_part(n_jobs, call_bytes):
        return Parallel(n_jobs=n_jobs)(calls)
    return _SharedCalls(list(calls), n_workers=n_jobs - 1).run()


@contextlib.contextmanager
def blas_limited():
    """This process's BLAS threads limited to one in the block, from its main thread only:
    the limit is process-wide, and fits in other threads (joblib's threading backend, a dask
    worker) would restore it out of order. Elsewhere as they are.

    The native solver wants one, in every process that solves, for the whole fit (threads
    woken by the products before the solves spin on after them). Its small factorizations
    (SciPy's LAPACK) alternate with NumPy's products, and where NumPy and SciPy each bring
    their own OpenBLAS (their wheels do) two pools of threads spin on the same cores: the
    README example took 5.6 s on two cores with two threads in each, 1.35 s with one thread
    in either or both, and the README demo's model on all the digits in one process 3.4 s
    either way (twice the CPU time with two). The largest problem measured, 60,000 signals
    with 256 patterns, took 4.8 s with two threads and 5.3 s with one.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def one_blas_thread(function):
    """``function`` run under :func:`blas_limited`, from a frame of this package
    (the context manager's own decorator adds one of ``contextlib``, which warnings would
    then name instead of the user's line: :func:`._warnings.warn`)."""

    @functools.wraps(function)
    def limited(*args, **kwargs):
        with blas_limited():
            return function(*args, **kwargs)

    return limited


def call_size(call):
    """The bytes that pickling ``call`` (a joblib ``delayed`` triple) sends, its arrays' data
    counted without a copy of it (pickle's out-of-band buffers). Pickled as loky pickles
    calls, by cloudpickle: functions defined in ``__main__`` or in another function are
    pickled by value there (the standard pickle refused a benchmark's wrapped solve)."""
    size = 0

    def count(buffer):
        nonlocal size
        size += buffer.raw().nbytes

    in_band = len(cloudpickle.dumps(call, protocol=5, buffer_callback=count))
    return in_band + size


def longest_first(X, Y):
    """The outputs (columns of ``Y``) in the order to solve them in, for fits on several
    processes: the longest solve first, as far as a linear look at the samples ``X`` tells.

    An output that the features explain less (smaller ``||X_c^T y_c|| / ||y_c||``, with
    centred columns) takes more iterations and more neurons. On the README demo's ten digits
    classes this ranking agreed with the classes' solve times at a Spearman correlation of
    0.72-0.93 (three pattern seeds; 0.61 with the squared loss), and solving them in its
    order took 0.07-0.11 s off a fit of 1.8 s on two processes
    (benchmarks/digits_history.md). The results do not depend on the order; its cost is one
    product with ``X``.
    """
    targets = Y - Y.mean(axis=0)
    sizes = np.linalg.norm(targets, axis=0)
    # unit columns, so that data of any accepted scale (MAX_DATA_SCALE) cannot overflow; and
    # X^T u is X_c^T u, as u sums to zero: no centred copy of X
    units = np.divide(targets, sizes, out=np.zeros_like(targets), where=sizes > 0)
    explained = np.linalg.norm(X.T @ units, axis=0)
    explained[sizes == 0] = np.inf  # (a constant output has no neuron to find: the last)
    return np.argsort(explained, kind="stable")


def workers(n_workers):
    """The executor of ``n_workers`` worker processes that shared calls use, kept for the next
    fit (started afresh with another number of workers, after :func:`stop_workers`, or in a
    forked child); stopped at the exit of the process, a multiprocessing child's included.

    Not joblib's: loky keeps one reusable executor per process, which joblib expects to be its
    own (a joblib ``Parallel`` after one built here failed on a missing attribute). Nor from
    joblib's copy of loky: its processes (the workers and loky's resource tracker) import
    joblib, 0.12 s each on the development machine, where the standalone loky's take 0.03 s
    (benchmarks/digits_history.md, "the standalone loky").
    """
    global _workers, _stopped_at_exit_of
    with _workers_lock:
        if _workers is None or _workers[1] != n_workers:
            if _workers is not None:
                _workers[0].shutdown(wait=False)
            executor = ProcessPoolExecutor(
                max_workers=n_workers, timeout=IDLE_WORKER_TIMEOUT, context=_LOKY_CONTEXT
            )
            _workers = (executor, n_workers)
        if _stopped_at_exit_of != os.getpid():
            # a multiprocessing child waits at its exit for its child processes, before
            # loky's exit handler would stop them: for the idle timeout, 300 s.
            # Stopped first: after multiprocessing's queues close (priority 10), the workers'
            # stop is never sent
            multiprocessing.util.Finalize(None, stop_workers, exitpriority=20)
            _stopped_at_exit_of = os.getpid()
        return _workers[0]


def stop_workers(kill=False):
    """End the workers of shared calls (killed, with ``kill``, amid their calls)."""
    global _workers
    with _workers_lock:
        if _workers is not None:
            _workers[0].shutdown(wait=not kill, kill_workers=kill)
            _workers = None


def _failed(future):
    return future.done() and not future.cancelled() and future.exception() is not None


class _SharedCalls:
    """Calls taken in their order, here and by the workers alike, one each at a time.

    A worker takes its first call once it is ready (a no-op call that imports the calls'
    module has returned): a call kept for a worker still starting leaves this process waiting
    for it, 0.7 s of a small first fit that takes 0.05 s without workers. An error
    here (KeyboardInterrupt too), or an interrupt while this process waits for the workers'
    calls, stops the workers amid their calls; a worker's error is raised once this process's
    running call has returned, without waiting for the workers' other calls.
    """

    def __init__(self, calls, n_workers):
        self.calls, self.n_workers = calls, n_workers
        self.waiting = collections.deque(range(len(calls)))
        self.submitted = []  # (position, future) pairs
        self.lock = threading.Lock()  # (workers' calls are submitted from loky's thread)
        self.broken = False  # (a worker died before its first call)
        self.readies = []  # (the no-op calls' futures)

    def run(self):
        results = [None] * len(self.calls)
        position = self._take_next()  # (the first is this process's, whatever the workers do)
        self._start_workers()
        try:
            with blas_limited():
                while position is not None:
                    function, args, kwargs = self.calls[position]
                    results[position] = function(*args, **kwargs)
                    position = self._take_next()
        except BaseException:  # (KeyboardInterrupt too)
            self._stop_workers()
            raise
        try:
            submitted = self._stop_submitting()
            concurrent.futures.wait(
                [future for _, future in submitted], return_when=concurrent.futures.FIRST_EXCEPTION
            )
            # a worker's error at once, not after the calls submitted before its own
            submitted.sort(key=lambda pair: not _failed(pair[1]))
            for position, future in submitted:
                try:
                    results[position] = future.result()  # (raises what the worker raised)
                except BrokenProcessPool:  # (a worker died: the next fit starts new ones)
                    stop_workers(kill=True)
                    raise
        except BaseException:  # (a worker's error, an interrupt, a signal handler's exception)
            # workers still amid calls would go on with them, and the next fit queue behind them
            # (a SIGALRM timeout's TimeoutError or SIGTERM's SystemExit would leave them)
            if not all(future.done() for _, future in self._stop_submitting()):
                self._stop_workers()
            raise
        if self.broken:
            stop_workers(kill=True)
        return results

    def _start_workers(self):
        # the no-op imports the calls' module: otherwise a new worker takes a call, then
        # imports the solvers for it (0.34 s) while this process could have solved it
        function = self.calls[0][0]
        imports = f"import {getattr(function, '__module__', None) or 'builtins'}"
        self.executor = workers(self.n_workers)
        for _ in range(self.n_workers):
            try:
                # (starts the workers not running; in a namespace of its own, not the
                # globals of loky's frame that calls it)
                ready = self.executor.submit(exec, imports, {})
            except BrokenProcessPool:  # (a worker died since the last fit, idle)
                stop_workers(kill=True)
                self.executor = workers(self.n_workers)
                ready = self.executor.submit(exec, imports, {})
            self.readies.append(ready)
            ready.add_done_callback(self._ready)

    def _stop_workers(self):
        """Stop the workers amid their calls, as joblib does on an error: once loky has taken
        every call submitted (killed before, one makes loky's thread fail on a KeyError; a
        script that raised would wait for the workers' calls at its exit otherwise)."""
        futures = [future for _, future in self._stop_submitting()] + self.readies
        deadline = time.monotonic() + 1.0
        while not all(f.running() or f.done() for f in futures) and time.monotonic() < deadline:
            time.sleep(1e-3)
        stop_workers(kill=True)

    def _take_next(self):
        with self.lock:
            return self.waiting.popleft() if self.waiting else None

    def _stop_submitting(self):
        """No call is submitted from now on; the submitted calls, as ``(position, future)``."""
        with self.lock:
            self.waiting.clear()
            return list(self.submitted)

    def _submit_next(self):
        with self.lock:
            if not self.waiting:
                return
            position = self.waiting.popleft()
            function, args, kwargs = self.calls[position]
            try:
                future = self.executor.submit(function, *args, **kwargs)
            except Exception:  # (a pool broken since: the call is left to this process)
                self.waiting.appendleft(position)
                return
            self.submitted.append((position, future))
        future.add_done_callback(self._done)

    def _ready(self, future):
        if future.cancelled():
            return
        if isinstance(future.exception(), BrokenProcessPool):
            self.broken = True  # (replaced once the calls have returned: stop_workers)
        else:  # (an import that failed is no reason to idle: calls pickled by value run)
            self._submit_next()

    def _done(self, future):
        if future.cancelled() or future.exception() is not None:
            with self.lock:  # (what failed is raised once this process's call has returned)
                self.waiting.clear()
            return
        self._submit_next()
