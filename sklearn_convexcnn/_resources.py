"""Memory estimates, checked before a program is built so that a fit too large for the machine
fails at once with the numbers and the remedies instead of exhausting memory."""

import os
from pathlib import Path

from ._patches import BLOCK_ENTRIES
from ._patterns import KEY_GATES, cover_bound

# CVXPY's canonicalization of the cone constraints plus Clarabel's factorization, per nonzero of
# the constraint matrix; measured from 0.67 GB at n=200, K=16, h=5, P=64 (2.0 M nonzeros) to
# 2.6 GB at n=1000 (10.2 M), see doc/notes/solver-measurements.md: 250-330 bytes.
CVXPY_BYTES_PER_NONZERO = 330
# SCS on the same program: its memory follows the cone rows more than the nonzeros. Peak
# memory above the imports at n=300 (SCS 3.3.1): 1-D signals of 20 with h=3, P=64: 1,146
# MiB (1.73 times the estimate at 330 bytes a nonzero); h=5, P=32: 660 MiB (1.35); signals of
# 40, h=2, P=16: 546 MiB (2.29); the digits' 3x3 patches, P=16: 795 MiB (0.80). These
# constants cover the four at 1.0-1.18 times.
SCS_BYTES_PER_NONZERO = 150
SCS_BYTES_PER_ROW = 1500

# What the native solver keeps of each group besides its sign bits: its candidate rows, its
# price bound and correlations between iterations, its gate (with a read-out per region, a
# copy per region). Measured 2.4-2.6 KB on 28x28 images with pooling="none" (n = 20 and 60,
# 100 and 300 patterns: 67,600 to 202,800 groups) and 1.3 KB with global pooling (100,000
# patterns, n = 20).
OPERATOR_BYTES_PER_GROUP = 2600

# The largest chunks of (pattern, row) entries the operator holds at once: its pieces' chunk_size,
# BLOCK_ENTRIES entries of about 24 bytes (masks, weighted masks, products). Its signs and
# correlations take smaller blocks, which stay in a core's cache.
OPERATOR_CHUNK_BYTES = 24 * BLOCK_ENTRIES

# What the native three-layer solver holds besides its program's arrays (restricted problems,
# prices, multipliers): at n=300, P=32 it used 100 MiB where the arrays' share is 65 MiB. With
# the arrays times the second-layer patterns it covers what was measured:
# 0.39 GB at n=500, P=64 (where the CVXPY estimate said 23 GiB), 419 MiB at n=500, K=8, h=3,
# P=64, and 100 MiB at n=300, P=32, where half the arrays' share said 214 and 33 MiB.
THREE_LAYER_WORKSPACE = 48 * 2**20

# What the draw of patterns holds a gate besides its entries (twice: the draw and the kept
# gates) and its keys' bits: each key's bytes object and place in a list (KEY_OVERHEAD), the
# gate's entry in the dict of distinct keys (GATE_OVERHEAD). Peak memory of the draw and its
# de-duplication by tracemalloc (8 to 20,000 signals of 16 to 64 features, kernel 2, 1,500
# to 200,000 gates, average pooling, and max pooling with regions): 0.3-0.9 of
# :func:`sampling_bytes`. Max pooling's keys without regions are a byte a sample and pool,
# up to 1.6 times the estimate with pools of one patch, where the program's own estimate is
# 30 times larger.
KEY_OVERHEAD = 48
GATE_OVERHEAD = 112

# Peak memory of building the dense program of max pooling for the native solver, in times its
# arrays: the pools' and regions' rows are written into the program's in place, and the rest
# is temporaries of one pool's size or less. Measured with tracemalloc on 8x8 inputs (n = 300
# and 1000, 32 and 64 patterns, equal and unequal pools and regions): 1.11-1.21 (2.2 when the
# pools' blocks were built apart and concatenated; up to 2.07 with unequal pools when only
# their concatenation was gone).
DENSE_OPERATOR_PEAK = 1.25

# Peak memory of the native solver on a circular program (solver="native"), in times its dense
# arrays (16 n d P bytes of pieces and cones: it builds none of CVXPY's canonicalization), and
# what it holds besides: Clarabel, the working set's design, pieces and restricted problems.
# Peak RSS above a process that built X, Gaussian X, n = 500-8000, d = 16-256, P = 8 and 32,
# squared and logistic: 1.03-1.14 times the arrays where they are 250-1000 MiB (1,036 MiB at
# n=8000, d=256, P=32, where the CVXPY estimate said 42.6 GiB); 5-40 MiB above them without
# neurons, up to 170 MiB with 15-40 neurons of d = 16 and 64 (restricted problems of
# (|S| d)^2 entries). This estimate is 1.45-2.2 times the peaks where the arrays are 250 MiB
# or more.
NATIVE_CIRCULAR_PEAK = 1.25
NATIVE_CIRCULAR_WORKSPACE = 256 * 2**20

# A linear CNN without pooling is a nuclear-norm program, for Clarabel a semidefinite cone of
# order m = h + K whose KKT system is dense in the cone's m (m + 1) / 2 entries. Peak memory
# above the imports, h = 3 and K = 58, 98 and 138 (n = 5 and 20: n does not count), was 6.4-6.6
# times those entries squared in float64 (0.18, 1.36 and 5.1 GiB; 91 s for the last), where
# SCS, first-order, took 28 MiB; at K = 398 Clarabel asks for 52 GB and the process aborts,
# out of reach of any MemoryError.
NUCLEAR_KKT_COPIES = 8
# SCS on the same program is first-order, but CVXPY's canonicalization holds the cone's
# m (m + 1) / 2 entries several times, and a boolean m x m mask of its upper triangle: peak
# memory above the imports 192 MiB at K = 500 and 492-765 MiB at K = 1000, h = 3
# (1,000-1,600 bytes an entry); on 400 x 400 images, K = 160,000, NumPy is asked for
# 23.8 GiB inside CVXPY before any check.
SCS_NUCLEAR_BYTES_PER_ENTRY = 1600


# Where Linux says which control groups the process is in, and where they are mounted.
_PROC_CGROUP = Path("/proc/self/cgroup")
_CGROUP_ROOT = Path("/sys/fs/cgroup")
# Where Linux says how much memory the system has available, and how large the process's
# address space is.
_PROC_MEMINFO = Path("/proc/meminfo")
_PROC_STATUS = Path("/proc/self/status")
# A cgroup limit this large is none (cgroup v1 writes "no limit" as 2**63 rounded to pages).
_NO_LIMIT = 2**60


def available_memory():
    """Bytes the process can still allocate, or None where the platform does not say.

    What the system has available, but at most what the memory limit of the process's
    control group leaves (a container's or a CI job's limit: the system's figure is the
    host's, and a fit it let through would meet the OOM killer instead of an error). An
    address-space limit bounds each process on its own: :func:`check_memory` checks it
    apart.
    """
    bounds = [_system_available(), _cgroup_headroom()]
    known = [bound for bound in bounds if bound is not None]
    return min(known) if known else None


def _system_available():
    available = _kib_field(_PROC_MEMINFO, "MemAvailable:")
    if available is not None:
        return available
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _address_space_headroom():
    """Bytes below the process's address-space limit (``RLIMIT_AS``) beyond its virtual size
    now, which that limit counts (taken as 0 where ``/proc`` does not say it, as on macOS:
    the limit itself, an upper bound); None where no limit is set or it cannot be read."""
    try:
        import resource  # (Unix only)

        limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if limit == resource.RLIM_INFINITY or limit >= _NO_LIMIT:
        return None
    size = _kib_field(_PROC_STATUS, "VmSize:")
    return max(0, limit - (size or 0))


def _kib_field(path, key):
    """The field ``key`` (such as ``"VmSize:"``) of a ``/proc`` file of sizes in kB, in
    bytes; None where it cannot be read."""
    for line in (_read(path) or "").splitlines():
        fields = line.split()
        if fields[:1] == [key] and len(fields) > 1 and fields[1].isdigit():
            return int(fields[1]) * 1024
    return None


def _cgroup_headroom():
    """Bytes below the memory limits of the process's control groups (v2: the group and its
    ancestors; v1: the memory controller's hierarchical limit), file cache but shared memory
    counted as free (the kernel reclaims it before it kills: a container that has read many
    files has a usage near its limit); None where no limit is set or can be read."""
    try:
        lines = _PROC_CGROUP.read_text().splitlines()
        return _headroom(lines)
    except (OSError, ValueError):  # (not Linux, or files not as documented: no limit known)
        return None


def _headroom(lines):
    """:func:`_cgroup_headroom` of the lines of ``/proc/self/cgroup``."""
    headrooms = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2, unified
            for group in _groups_up_from(_CGROUP_ROOT, path):
                limit = _read(group / "memory.max")
                if limit is not None and limit != "max" and int(limit) < _NO_LIMIT:
                    stat = _stat(group / "memory.stat")
                    usage = int(_read(group / "memory.current") or 0)
                    cache = stat.get("file", 0) - stat.get("shmem", 0)
                    headrooms.append(int(limit) - usage + max(cache, 0))
        elif "memory" in controllers.split(","):  # v1
            (group,) = _groups_up_from(_CGROUP_ROOT / "memory", path)[:1]
            stat = _stat(group / "memory.stat")
            limit = stat.get("hierarchical_memory_limit", _NO_LIMIT)
            if limit < _NO_LIMIT:
                usage = int(_read(group / "memory.usage_in_bytes") or 0)
                cache = stat.get("total_cache", 0) - stat.get("total_shmem", 0)
                headrooms.append(limit - usage + max(cache, 0))
    return max(0, min(headrooms)) if headrooms else None


def _groups_up_from(root, path):
    """The group ``path`` under ``root`` and its ancestors, innermost first; the root alone
    where ``path`` is not there (a container sees its own group as the root)."""
    group = root / path.lstrip("/")
    if not group.is_dir():
        return [root]
    return [group, *[parent for parent in group.parents if root in (parent, *parent.parents)]]


def _read(path):
    try:
        return path.read_text().strip()
    except (OSError, ValueError):
        return None


def _stat(path):
    """``memory.stat`` as a dict of ints (empty where it cannot be read)."""
    stat = {}
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            stat[key] = int(value)
    return stat


def program_groups(n_samples, patch_size, n_patterns, regions=None):
    """Groups per sign of a program over ``n_patterns`` gates: one per pattern, or with a
    read-out per region (``regions``: the number of patches of each) one per pattern that is
    distinct in a region, at most the cells of the region's arrangement (Cover's bound on
    its ``n |S|^2`` rows and in-pool differences): an exact enumeration's gates, pooled over
    all regions, are far more than any one region has (39,568 gates of 200 regions of one
    patch each, 39,800 groups, not 7.9 million)."""
    if not regions:
        return n_patterns
    return sum(
        min(n_patterns, cover_bound(n_samples * size * size, patch_size)) for size in regions
    )


def _cone_rows(n_patches, regions):
    """Rows per sample of each group's cone: ``K``, or with a read-out per region the
    largest region's (the others' cones are padded)."""
    return max(regions) if regions else n_patches


def dense_arrays_bytes(n_samples, n_patches, patch_size, n_patterns, regions=None):
    """The dense program's arrays alone, ``n * h`` floats of pieces and ``n * K * h`` of cone
    rows per group (:func:`program_groups`, :func:`_cone_rows`): what the native solver
    holds of a dense program (max pooling), without CVXPY's canonicalization (0.57 GB
    measured on all digits, 32 patterns, where the CVXPY estimate said 11.6 GiB)."""
    groups = program_groups(n_samples, patch_size, n_patterns, regions)
    rows = _cone_rows(n_patches, regions)
    return 8 * groups * patch_size * (n_samples + n_samples * rows)


def dense_program_bytes(
    n_samples, n_patches, patch_size, n_patterns, regions=None, solver="clarabel"
):
    """Peak memory of building and solving the dense program through CVXPY: its arrays
    (:func:`dense_arrays_bytes`), then the constraint matrix of both signs' cones, ``2 * n *
    K`` rows and ``2 * n * K * h`` nonzeros per group (for ``solver="scs"`` both counted:
    ``SCS_BYTES_PER_NONZERO``, ``SCS_BYTES_PER_ROW``)."""
    groups = program_groups(n_samples, patch_size, n_patterns, regions)
    rows = 2 * groups * n_samples * _cone_rows(n_patches, regions)
    arrays = dense_arrays_bytes(n_samples, n_patches, patch_size, n_patterns, regions)
    if solver == "scs":
        return arrays + (SCS_BYTES_PER_NONZERO * patch_size + SCS_BYTES_PER_ROW) * rows
    return arrays + CVXPY_BYTES_PER_NONZERO * rows * patch_size


def circular_program_bytes(n_samples, length, n_patterns):
    """Peak memory of the circular program through CVXPY: the dense program of one patch of
    the whole signal, plus its norm's spectral blocks, a ``2 x d`` DFT pair per frequency
    (``(d + 2) d`` nonzeros per group and sign; their products with the groups were 1.6x this
    estimate's share at ``d`` = 500 and 1,000: 0.9 and 3.0 GB measured, ``n=20``, ``P=8``)."""
    spectral = 2 * n_patterns * (length + 2) * length
    return dense_program_bytes(n_samples, 1, length, n_patterns) + (
        CVXPY_BYTES_PER_NONZERO * spectral
    )


def circular_native_bytes(n_samples, length, n_patterns):
    """Peak memory of the circular program for the native solver: the dense program of one
    patch of the whole signal (:func:`dense_arrays_bytes`, ``16 n d P`` bytes of pieces and
    cones, which it reads in place) times ``NATIVE_CIRCULAR_PEAK``, and
    ``NATIVE_CIRCULAR_WORKSPACE``. It builds none of CVXPY's canonicalization, which
    :func:`circular_program_bytes` counts (42 times the arrays and more). The restricted
    problems of its working set, whose Hessian has ``(|S| d)^2`` entries, grow with the active
    groups, not with ``n_patterns``: the workspace covers those measured (up to 40 neurons of
    ``d`` = 16 and 64), larger working sets come on top and are checked as they grow
    (``_WorkingSet.design`` in :mod:`._solvers._native`).
    """
    arrays = dense_arrays_bytes(n_samples, 1, length, n_patterns)
    return int(NATIVE_CIRCULAR_PEAK * arrays) + NATIVE_CIRCULAR_WORKSPACE


def patches_bytes(n_samples, n_patches, patch_size):
    """The patches of ``X`` as float64: ``kernel_size`` times ``X`` for signals, its square
    for images."""
    return 8 * n_samples * n_patches * patch_size


def check_patches_memory(n_samples, n_patches, patch_size, remedies=None, *, whole_rows=False):
    """MemoryError, naming the fix (``remedies``), when the patches of ``X`` would not fit in
    memory. By default the fix is in the patches' geometry, or with ``whole_rows`` (circular
    CNNs: each patch a whole row, no kernel_size or stride to change) in the signals."""
    if remedies is None:
        remedies = (
            "Use shorter signals or fewer samples."
            if whole_rows
            else "Use a larger stride, a smaller kernel_size or fewer samples."
        )
    check_memory(
        patches_bytes(n_samples, n_patches, patch_size),
        f"Cutting X into patches ({n_samples} samples x {n_patches} patches of size {patch_size})",
        remedies,
    )


def three_layer_program_bytes(n_samples, n_patches, patch_size, n_patterns, exact=False):
    """Peak memory of solving the three-layer program through CVXPY (cutting planes).

    Its groups pair each first-layer pattern with each of its second-layer patterns
    (:func:`_second_layer_patterns`; ``exact``: the first-layer patterns are
    ``n_patterns="exact"``'s), and the cutting planes keep part of their cone
    rows. Peak memory above the package's imports, measured on signals of length 8 (``K=6``,
    ``h=3``): 95 and 305 MiB at ``n=100`` with 16 and 32 patterns, 61 and
    177 MiB at ``n=50``. The dense two-layer estimate times a third of the second-layer
    patterns covers them (1.1-1.3x) but for the smallest, where CVXPY's own import dominates.
    """
    second_layer = _second_layer_patterns(n_samples, n_patterns, exact)
    return dense_program_bytes(n_samples, n_patches, patch_size, n_patterns) * second_layer // 3


def _second_layer_patterns(n_samples, n_patterns, exact):
    """At most how many second-layer patterns a three-layer program pairs each first-layer
    pattern with: ``n_patterns + 1``, or ``2^n`` where that is fewer; all ``2^n`` with
    ``n_patterns="exact"`` (``exact``), which enumerates them."""
    every = 2 ** min(n_samples, 62)
    return every if exact else min(n_patterns + 1, every)


def operator_bytes(n_samples, n_patches, patch_size, n_patterns, regions=None):
    """Peak memory of the native solver's matrix-free operator (:class:`PatchOperator`).

    One bit per (sample, patch, pattern) for the activation signs, the patch rows twice (a
    margin: the operator shares the estimator's patches where they are contiguous, as they
    are from :func:`.._patches.extract_patches`), ``OPERATOR_BYTES_PER_GROUP`` for each group
    (:func:`program_groups`), and the chunks in which signs are computed. The working set's
    design matrix comes on top; it grows with the number of active groups, not with
    ``n_patterns``, and is checked as it grows (``_native._WorkingSet.design``).
    """
    rows = n_samples * n_patches
    groups = program_groups(n_samples, patch_size, n_patterns, regions)
    signs, patches = rows * n_patterns // 8, 16 * rows * patch_size
    # (a chunk of every entry where they are fewer: certify's fallback to the fitted patterns
    # of a small fit was refused 100 MB of chunks it never takes)
    chunk = min(OPERATOR_CHUNK_BYTES, 24 * rows * n_patterns)
    return signs + patches + OPERATOR_BYTES_PER_GROUP * groups + chunk


def patterns_in_memory(n_samples, n_patches, patch_size):
    """The most patterns whose matrix-free operator (:func:`operator_bytes`, one group per
    pattern: less than any program over them holds) and gates fit in the available memory, or
    ``None`` where that is unknown: a cap on an enumeration, checked before it runs."""
    measures = (available_memory(), _address_space_headroom())
    bounds = [bound for bound in measures if bound is not None]
    if not bounds:
        return None
    available = min(bounds)
    fixed = operator_bytes(n_samples, n_patches, patch_size, 0)
    per_pattern = n_samples * n_patches / 8 + OPERATOR_BYTES_PER_GROUP + 8 * patch_size
    return max(1, int((available - fixed) // per_pattern))


def sampling_bytes(n_samples, n_patches, patch_size, n_patterns, regions=None):
    """Peak memory of drawing ``n_patterns`` gates and de-duplicating their patterns
    (:func:`.._patterns.key_bytes`), all held at once: the draw; a key a gate of a byte per
    sample and eight patches of the largest region (the whole grid without regions: average
    pooling's keys are a bit a patch), two where regions are keyed one after the other (the
    last region's are held while the next one's are made); :data:`KEY_OVERHEAD` and
    :data:`GATE_OVERHEAD`; the parts the keys of ``KEY_GATES`` gates are joined from; four
    copies of the products of a block of samples and gates from which keys are made (at most
    ``BLOCK_ENTRIES`` floats; max pooling's winners are found with temporaries of their
    size)."""
    patches = max(regions) if regions else n_patches
    key = n_samples * -(-patches // 8)
    keys = (2 if regions else 1) * (key + KEY_OVERHEAD)
    chunk = min(n_patterns, KEY_GATES)
    block = min(BLOCK_ENTRIES, n_samples * patches * chunk)
    return n_patterns * (16 * patch_size + keys + GATE_OVERHEAD) + chunk * key + 32 * block


def check_program_memory(
    n_samples,
    n_patches,
    patch_size,
    n_patterns,
    *,
    kind,
    solver,
    exact=False,
    at_once=1,
    regions=None,
):
    """MemoryError, naming the fix, when the convex program would not fit in memory.

    ``kind`` is how it is held: ``"operator"`` (the native solver's matrix-free operator),
    ``"dense_operator"`` (the dense program's arrays, for the native solver, and what
    building them holds besides: ``DENSE_OPERATOR_PEAK``), ``"dense"``
    (the dense program, through CVXPY), ``"circular"`` or ``"three_layer"`` (theirs,
    through CVXPY), ``"circular_native"`` (the circular program's arrays for the native
    solver, :func:`circular_native_bytes`), ``"three_layer_native"`` (its arrays times the
    second-layer patterns, and ``THREE_LAYER_WORKSPACE`` for the native solver's own
    arrays); ``exact``: the
    patterns are ``n_patterns="exact"``'s;
    ``at_once``: how many outputs' programs are solved at the same time (``n_jobs``
    workers, each with its own: 0.72 GB were measured with one worker and 1.56 GB with
    two); ``regions``: the number of patches of each region of a read-out per region, whose
    programs have a group per pattern and region (``None``: one group per pattern).
    """
    # (Python ints: a NumPy int64 n_patterns of 2**62 overflowed the estimate to a fit)
    n_patterns = int(n_patterns)
    sizes = (n_samples, n_patches, patch_size, n_patterns)
    fewer = (
        "Sample the patterns (an int n_patterns) instead of n_patterns='exact'"
        if exact
        else "Use fewer n_patterns"
    )
    # (the program grows with the patches as much as with the patterns: a huge kernel_size
    # on long signals was refused with n_patterns=2 and "Use fewer n_patterns" alone)
    remedies = [
        fewer,
        "use fewer or smaller patches (a larger stride or a smaller kernel_size)",
        "fit on a subset of the samples",
    ]
    if kind == "three_layer":
        required = three_layer_program_bytes(*sizes, exact)
        remedies[0] += " (it grows with their square)"
    elif kind == "three_layer_native":
        second_layer = _second_layer_patterns(n_samples, n_patterns, exact)
        required = dense_arrays_bytes(*sizes) * second_layer + THREE_LAYER_WORKSPACE
        remedies[0] += " (it grows with their square)"
    elif kind == "dense_operator":
        required = int(DENSE_OPERATOR_PEAK * dense_arrays_bytes(*sizes, regions))
    elif kind in ("circular", "circular_native"):
        required = circular_native_bytes(n_samples, patch_size, n_patterns)
        remedies = [fewer, "shorter signals", "fewer samples"]
        if kind == "circular":  # (through CVXPY; the native solver holds the arrays alone)
            native = _gigabytes(required)
            required = circular_program_bytes(n_samples, patch_size, n_patterns)
            remedies.insert(1, f"solver='native' (about {native}: no CVXPY canonicalization)")
    elif kind == "dense":
        required = dense_program_bytes(*sizes, regions, solver)
        remedies.insert(1, "solver='native' (matrix-free) where the architecture supports it")
    elif kind == "operator":
        required = operator_bytes(*sizes, regions)
    else:
        raise ValueError(f"unknown kind={kind!r} of program")
    groups = ""
    if regions:
        groups = (
            f" in {len(regions)} regions, each read out on its own (up to "
            f"{program_groups(n_samples, patch_size, n_patterns, regions)} groups)"
        )
        remedies.append(
            "use fewer regions (a larger pool_size, or readout='sum')"
            if max(regions) > 1
            # (pooling='none', a patch a region, which ignores both)
            else "use fewer regions (pooling='average' or 'max', with a pool_size or readout='sum')"
        )
    required *= at_once
    # the draw comes before the program (and is gone once it is built): the regions' Cover
    # bounds cap the program's groups, not the draw, and 10**9 filters were drawn into
    # 15 GiB before any check otherwise
    drawn = 0 if exact else sampling_bytes(*sizes, regions)
    at_once = 1 if drawn > required else at_once  # (the draw is made once, whatever n_jobs)
    if at_once > 1:
        remedies.append("use a smaller n_jobs")
    remedies = (
        " or ".join(remedies) if len(remedies) == 2 else ", ".join(remedies[:-1]) + ", or "
        + remedies[-1]
    ) + "."  # fmt: skip
    check_memory(
        max(required, drawn),
        ("Drawing the sampled patterns of the " if drawn > required else "The ")
        + f"{'matrix-free ' if kind == 'operator' else ''}convex program for {n_samples} "
        f"samples x {n_patches} patches of size {patch_size} with up to {n_patterns} "
        f"patterns{groups} (solver={solver!r}"
        + (f"; {at_once} outputs' programs at once, n_jobs)" if at_once > 1 else ")"),
        remedies,
    )


def check_nuclear_program_memory(n_patches, patch_size, solver, at_once=1):
    """MemoryError, naming the fix, where the nuclear-norm program of a linear CNN without
    pooling would not fit in memory: Clarabel's (``solver`` ``"auto"`` or ``"clarabel"``,
    :data:`NUCLEAR_KKT_COPIES`) or SCS's (:data:`SCS_NUCLEAR_BYTES_PER_ENTRY`)."""
    order = patch_size + n_patches
    entries = order * (order + 1) // 2
    at_once_said = f"; {at_once} outputs' programs at once, n_jobs)" if at_once > 1 else ")"
    if solver == "scs":
        check_memory(
            at_once * SCS_NUCLEAR_BYTES_PER_ENTRY * entries,
            f"The nuclear-norm program of a linear CNN without pooling, {n_patches} patches "
            f"of size {patch_size} (solver='scs': a semidefinite cone of order {order}"
            + at_once_said,
            "Use fewer patches (a larger stride or kernel_size), or pooling='average'.",
        )
    elif solver in ("auto", "clarabel"):
        check_memory(
            at_once * NUCLEAR_KKT_COPIES * 8 * entries**2,
            f"The nuclear-norm program of a linear CNN without pooling, {n_patches} patches "
            f"of size {patch_size} (solver={solver!r}: Clarabel, a semidefinite cone of order "
            f"{order}" + at_once_said,
            "Use solver='scs' (first-order: its memory grows with the cone's entries, "
            "Clarabel's with their square), or fewer patches (a larger stride or "
            "kernel_size).",
        )


def _gigabytes(n_bytes):
    """``n_bytes`` in GiB, or in MiB below one GiB (where 0.1 GiB steps say too little)."""
    if n_bytes < 2**30:
        return f"{n_bytes / 2**20:.1f} MiB"
    return f"{n_bytes / 2**30:.1f} GiB"


def check_memory(required, what, remedies, available=None):
    """Raise MemoryError when ``required`` bytes exceed what is available.

    Parameters
    ----------
    required : int
        Estimated peak bytes.
    what : str
        The problem, in words (sizes included).
    remedies : str
        What the user can change.
    available : int, default=None
        Bytes available; measured when None (:func:`available_memory`, then the process's
        address-space limit). Nothing is checked where it is unknown.
    """
    measured = available is None
    available = available_memory() if measured else available
    if available is not None and required > available:
        raise MemoryError(
            f"{what} needs about {_gigabytes(required)} of memory but only "
            f"{_gigabytes(available)} is available. {remedies}"
        )
    # ulimit -v, set on some clusters: a fit let through would fail in NumPy's allocation,
    # with a MemoryError that names no remedy. The limit is each process's, and it is
    # compared with all that ``required`` counts: the n_jobs outputs' programs share one
    # process where joblib runs them in threads (its threading backend, GridSearchCV's
    # workers), and a refusal where they have a worker each errs on the safe side.
    own = _address_space_headroom() if measured else None
    if own is not None and required > own:
        raise MemoryError(
            f"{what} needs about {_gigabytes(required)} of memory, but the process's "
            f"address-space limit (ulimit -v) leaves only {_gigabytes(own)}. {remedies}"
        )
