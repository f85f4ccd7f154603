"""Where and how Dask work runs: scheduler, cluster, memory limit and progress.

One :func:`compute_settings` context says how every pass over the data of a run executes:
the threaded scheduler (default, embedded), a process pool, a Dask distributed scheduler at
an address, or a ``LocalCluster`` started for the run. :func:`compute` evaluates Dask
objects under those settings and reports progress per pass.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from chemmap._shared.progress import ProgressCallback, notify
from chemmap.core.exceptions import InvalidParameterError, MemoryLimitError

__all__ = [
    "ComputeSettings",
    "active_settings",
    "available_memory",
    "block_budget",
    "compute",
    "compute_settings",
    "ensure_bytes_fit",
    "ensure_fits",
    "is_address",
    "parse_cluster",
    "parse_memory",
    "result_fits",
    "spill",
    "spill_target",
]

#: Default memory limit: this fraction of the memory available when the run starts.
DEFAULT_MEMORY_FRACTION = 0.5
#: Share of the memory limit one image-sized result (features, labels, maps) may take.
RESULT_SHARE = 0.5
#: Share of the memory limit a filtered copy of a cube in memory may take. The run holds the
#: input cube and its per-pixel results beside it; a larger copy is written by blocks to a
#: temporary store on disk (:func:`spill_target`) and read back by blocks.
INTERMEDIATE_SHARE = 0.25
#: Share of the memory limit taken by the blocks in flight (one per worker); the rest is
#: for results.
WORKING_SHARE = 0.5
#: Bytes a step holds per byte of its input block (the block, float64 temporaries, the
#: output): a block of ``b`` bytes costs about ``WORK_FACTOR * b`` while it is processed.
WORK_FACTOR = 4
#: Largest block: beyond this, bigger blocks no longer speed anything up.
MAX_BLOCK_BYTES = 64 * 2**20
#: Smallest block: below this, per-task overheads dominate.
MIN_BLOCK_BYTES = 256 * 2**10
#: Block size for passes over feature matrices (few columns, many rows): small enough that
#: the rows of an image split into blocks for every thread.
FEATURE_BLOCK_BYTES = 4 * 2**20
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


@dataclass(frozen=True)
class ComputeSettings:
    """How Dask work runs.

    Attributes
    ----------
    scheduler : str
        ``"threads"``, ``"processes"``, ``"synchronous"`` or ``"distributed"``.
    memory_limit : int
        Bytes of the run's budget. Half of it is for the blocks in flight: it sizes the
        blocks each worker holds (:func:`block_budget`). The other half is for image-sized
        results (features, labels, maps). Files above a quarter of it are read lazily, and
        a ``LocalCluster`` shares it among its workers.
    n_workers : int
        Parallel workers (threads, processes or cluster threads).
    address : str or None
        Scheduler address of a distributed cluster.
    """

    scheduler: str = "threads"
    memory_limit: int = 0
    n_workers: int = 1
    address: str | None = None

    def to_dict(self) -> dict:
        return {
            "scheduler": self.scheduler,
            "memory_limit": self.memory_limit,
            "n_workers": self.n_workers,
            "address": self.address,
        }


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def parse_memory(value) -> int:
    """Bytes from ``"2GiB"``, ``"512 MB"``, ``"1.5g"`` or a number of bytes.

    Binary and decimal prefixes are both read as powers of 1024, as memory is counted.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise InvalidParameterError(f"A memory limit must be positive; got {value!r}.")
        return int(value)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(value).lower())
    if not match or float(match.group(1)) <= 0:
        raise InvalidParameterError(
            f"Cannot read the memory limit {value!r}. Expected a size such as '2GiB', '512MiB' or '8G'."
        )
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def default_memory_limit() -> int:
    return int(available_memory() * DEFAULT_MEMORY_FRACTION)


_ACTIVE: contextvars.ContextVar[ComputeSettings | None] = contextvars.ContextVar("chemmap_compute", default=None)


def active_settings() -> ComputeSettings:
    """The settings of the innermost :func:`compute_settings`, else threads with the default limit."""
    settings = _ACTIVE.get()
    if settings is None:
        return ComputeSettings("threads", default_memory_limit(), os.cpu_count() or 1)
    return settings


def parse_cluster(cluster: str) -> int:
    match = re.fullmatch(r"local:(\d+)", cluster.strip()) if isinstance(cluster, str) else None
    if not match or int(match.group(1)) < 1:
        raise InvalidParameterError(
            f"Cannot read the cluster {cluster!r}. Expected 'local:N' (N worker processes on this "
            "machine), or give a running scheduler's address with scheduler='tcp://host:8786'."
        )
    return int(match.group(1))


def is_address(scheduler: str) -> bool:
    """True for a Dask scheduler address (``tcp://host:8786``, ``host:8786``)."""
    return isinstance(scheduler, str) and ("://" in scheduler or re.fullmatch(r"[\w.-]+:\d+", scheduler) is not None)


@contextlib.contextmanager
def compute_settings(
    scheduler: str = "threads", *, memory_limit=None, cluster: str | None = None
) -> Iterator[ComputeSettings]:
    """Run the enclosed work on the given scheduler with a memory limit.

    Parameters
    ----------
    scheduler : str
        ``"threads"`` (default), ``"processes"``, ``"synchronous"`` (one thread, for
        debugging), or the address of a Dask distributed scheduler (``"tcp://host:8786"``).
    memory_limit : int or str, optional
        Budget in bytes or as ``"2GiB"``; default half the available memory (see
        :class:`ComputeSettings` for what follows from it).
    cluster : str, optional
        ``"local:N"`` starts a Dask ``LocalCluster`` of N worker processes for the
        enclosed work (and closes it after); the memory limit is shared among them.
    """
    limit = default_memory_limit() if memory_limit is None else parse_memory(memory_limit)
    with contextlib.ExitStack() as stack:
        if cluster is not None:
            n = parse_cluster(cluster)
            client = stack.enter_context(_local_cluster(n, limit))
            settings = ComputeSettings("distributed", limit, n, client.scheduler.address)
        elif scheduler in LOCAL_SCHEDULERS:
            n = 1 if scheduler == "synchronous" else _workers_within(limit, os.cpu_count() or 1)
            settings = ComputeSettings(scheduler, limit, n)
            stack.enter_context(_local_scheduler(scheduler, n))
        elif is_address(scheduler):
            client = stack.enter_context(_client(scheduler))
            n = sum(client.nthreads().values()) or 1
            settings = ComputeSettings("distributed", limit, n, scheduler)
        else:
            raise InvalidParameterError(
                f"Unknown scheduler {scheduler!r}. Expected one of {', '.join(LOCAL_SCHEDULERS)} or a "
                "Dask scheduler address such as 'tcp://127.0.0.1:8786'."
            )
        token = _ACTIVE.set(settings)
        try:
            yield settings
        finally:
            _ACTIVE.reset(token)


def _workers_within(limit: int, cores: int) -> int:
    """Workers whose smallest blocks fit the working share of ``limit`` (at most ``cores``)."""
    return int(max(1, min(cores, WORKING_SHARE * limit // (WORK_FACTOR * MIN_BLOCK_BYTES))))


@contextlib.contextmanager
def _local_scheduler(scheduler: str, n: int):
    if scheduler != "processes":
        with _dask_config(scheduler=scheduler, num_workers=n):
            yield
        return
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    import dask

    # one pool for the whole run: Dask would otherwise start a new pool for every pass
    with (
        ProcessPoolExecutor(n, mp_context=get_context("spawn")) as pool,
        dask.config.set(scheduler="processes", pool=pool),
    ):
        yield


@contextlib.contextmanager
def _dask_config(**settings):
    """``dask.config.set(**settings)`` for the enclosed work, without importing Dask (0.06 s
    of every run of a cube in memory) where nothing has: then through the ``DASK_*``
    environment variables, which Dask reads when a reader first imports it, and Dask's
    configuration is read again on the way out if it was imported meanwhile."""
    if "dask" in sys.modules:
        import dask

        with dask.config.set(**settings):
            yield
        return
    variables = {f"DASK_{key.upper()}": str(value) for key, value in settings.items()}
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if "dask" in sys.modules:
            import dask

            dask.config.refresh()


def _distributed():
    from chemmap.core.optional import optional_import

    return optional_import("distributed", extra="cluster", purpose="A Dask cluster (--cluster, --scheduler ADDRESS)")


@contextlib.contextmanager
def _local_cluster(n: int, memory_limit: int):
    distributed = _distributed()
    threads = max(1, (os.cpu_count() or 1) // n)
    with (
        distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=threads,
            processes=True,
            memory_limit=max(memory_limit // n, 256 * 2**20),
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster, set_as_default=True) as client,
    ):
        yield client


@contextlib.contextmanager
def _client(address: str):
    distributed = _distributed()
    try:
        client = distributed.Client(address, timeout=10, set_as_default=True)
    except OSError as exc:
        raise InvalidParameterError(
            f"Cannot reach the Dask scheduler at {address!r} ({exc}). Start one with `dask scheduler` "
            "and workers with `dask worker ADDRESS`, or use scheduler='threads'."
        ) from None
    with client:
        yield client


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.3g} {unit}"
    return f"{n / 1024:.3g} TiB"


def block_budget(settings: ComputeSettings | None = None) -> int:
    """Bytes of input one block may hold, so that every worker's block fits the limit.

    ``WORKING_SHARE * memory_limit / (n_workers * WORK_FACTOR)``, within
    [:data:`MIN_BLOCK_BYTES`, :data:`MAX_BLOCK_BYTES`]. Readers cut lazy cubes into
    chunks of at most this size and NumPy passes use blocks of at most this size.
    """
    settings = active_settings() if settings is None else settings
    share = WORKING_SHARE * settings.memory_limit / (max(1, settings.n_workers) * WORK_FACTOR)
    return int(min(MAX_BLOCK_BYTES, max(MIN_BLOCK_BYTES, share)))


def _nbytes(array) -> int:
    return int(np.prod(array.shape, dtype=np.int64)) * np.dtype(array.dtype).itemsize


def result_fits(*arrays) -> bool:
    """True when ``arrays`` together fit the results' share of the memory limit."""
    return sum(_nbytes(a) for a in arrays) <= RESULT_SHARE * active_settings().memory_limit


#: What ``ensure_fits`` suggests by default.
FITS_FIX = "raise the limit (--memory-limit, memory_limit=), use fewer features (n_components), or crop the image"


def ensure_fits(array, *, what: str, fix: str = FITS_FIX) -> None:
    """Refuse to compute ``array`` into memory when it exceeds its share of the memory limit."""
    ensure_bytes_fit(_nbytes(array), what=what, fix=fix)


def ensure_bytes_fit(nbytes: int, *, what: str, fix: str = FITS_FIX) -> None:
    """Refuse to hold ``nbytes`` of results when they exceed their share of the memory limit;
    the error names ``what`` would take them and how to ``fix`` it."""
    limit = active_settings().memory_limit
    if nbytes > RESULT_SHARE * limit:
        raise MemoryLimitError(
            f"{what[0].upper()}{what[1:]} would take {format_bytes(nbytes)} of memory, more than half the "
            f"memory limit of {format_bytes(limit)}. To fix this, {fix}."
        )


#: Environment variable naming the folder of temporary spill stores (default: the system's
#: temporary folder). On a distributed cluster it must be a folder every worker can reach.
SPILL_DIR_VARIABLE = "CHEMMAP_SPILL_DIR"


def spill_target(shape, dtype, *, chunks, read_chunks):
    """A temporary Zarr array on disk to write a result into, and a Dask array over it.

    ``chunks`` are the stored chunks (cut as the writer writes, so each is written once);
    ``read_chunks`` those of the returned Dask array (as later passes read). The store is
    deleted when the Zarr array and every array made from the Dask one are
    garbage-collected.

    Returns
    -------
    target : zarr.Array
    lazy : dask array
    """
    import shutil
    import tempfile
    import weakref

    import dask.array as da
    import zarr

    folder = tempfile.mkdtemp(prefix="chemmap-spill-", dir=os.environ.get(SPILL_DIR_VARIABLE) or None)
    target = zarr.create_array(store=folder, shape=shape, chunks=chunks, dtype=dtype, compressors=None)
    weakref.finalize(target, shutil.rmtree, folder, True)
    return target, da.from_array(target, chunks=read_chunks, asarray=True, lock=False)


def spill(array, *others, stage: str = "spilling to disk", progress: ProgressCallback | None = None):
    """Write a lazy ``(n, d)`` array to a temporary Zarr store and return a Dask array over
    it, computing ``others`` (small lazy arrays over the same data) in the same pass.

    Used for image-sized intermediate results (features of every pixel) larger than the
    results' share of the memory limit: later passes read the store instead of
    recomputing from the cube. The store is deleted when the returned array (and every
    array made from it) is garbage-collected.

    Returns
    -------
    stored : dask array
    others : list of ndarray
    """
    import dask.array as da

    row_bytes = max(1, int(np.prod(array.shape[1:], dtype=np.int64)) * np.dtype(array.dtype).itemsize)
    rows = max(1, FEATURE_BLOCK_BYTES // row_bytes)
    array = array.rechunk((rows, *array.shape[1:]))
    chunks = (rows, *array.shape[1:])
    target, stored = spill_target(array.shape, array.dtype, chunks=chunks, read_chunks=chunks)
    written = da.store(array, target, lock=False, compute=False)
    _, *values = compute(written, *others, stage=stage, progress=progress)
    return stored, [np.asarray(v) for v in values]


def compute(*objects, stage: str = "computing", progress: ProgressCallback | None = None):
    """Evaluate Dask objects (NumPy values pass through) under the active settings.

    Returns a tuple of results. On the local schedulers, ``progress(stage, done, total)``
    is called as tasks finish; on a distributed cluster at the start and the end.
    """
    lazy = [i for i, obj in enumerate(objects) if hasattr(obj, "__dask_graph__") and obj.__dask_graph__() is not None]
    if not lazy:
        return tuple(objects)
    import dask

    settings = active_settings()
    with contextlib.ExitStack() as stack:
        if settings.scheduler != "distributed" and progress is not None:
            stack.enter_context(_TaskProgress(stage, progress))
        elif progress is not None:
            notify(progress, stage, 0, 1)
        if settings.scheduler == "threads":
            from threadpoolctl import threadpool_limits

            # one BLAS thread per Dask thread: the blocks are the parallelism
            stack.enter_context(threadpool_limits(1))
        pending = [objects[i] for i in lazy]
        values = _compute_local(pending, settings)
        if values is None:
            values = dask.compute(*pending)
        if settings.scheduler == "distributed":
            notify(progress, stage, 1, 1)
    out = list(objects)
    for i, value in zip(lazy, values, strict=True):
        out[i] = value
    return tuple(out)


def _compute_local(objects: list, settings: ComputeSettings) -> list | None:
    """Dask arrays on the local threads, stored block by block into preallocated NumPy arrays
    (no concatenation copy at the end); None when this does not apply."""
    import dask.array as da

    if settings.scheduler not in ("threads", "synchronous") or not all(isinstance(o, da.Array) for o in objects):
        return None
    targets = [np.empty(o.shape, dtype=o.dtype) for o in objects]
    da.store(objects, targets, lock=False, compute=True)
    return targets


class _TaskProgress:
    """A Dask local-scheduler callback that reports finished tasks of one pass."""

    def __init__(self, stage: str, progress: ProgressCallback) -> None:
        from dask.callbacks import Callback

        self.stage, self.progress = stage, progress
        self.total = self.done = 0
        self._every = 1
        outer = self

        class _Callback(Callback):
            def _start_state(self, dsk, state):
                outer.total = len(state["ready"]) + len(state["waiting"]) + len(state["finished"])
                outer._every = max(1, outer.total // 200)
                notify(outer.progress, outer.stage, 0, outer.total)

            def _posttask(self, key, result, dsk, state, worker_id):
                outer.done += 1
                if outer.done % outer._every == 0 or outer.done == outer.total:
                    notify(outer.progress, outer.stage, outer.done, outer.total)

        self._callback = _Callback()

    def __enter__(self):
        self._callback.__enter__()
        return self

    def __exit__(self, *exc):
        self._callback.__exit__(*exc)
        if self.total and self.done < self.total:
            notify(self.progress, self.stage, self.total, self.total)
