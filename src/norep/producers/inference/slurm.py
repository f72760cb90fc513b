"""Submit a zoo's inference as a SLURM job array with submitit, one shard per task.

Each task runs :func:`norep.producers.inference.runner.predict_zoo` with its shard
``I/N`` and writes into the one shared store (the store's lock keeps the writers
apart; resubmitting resumes whatever a task left unfinished).
"""

from __future__ import annotations

from pathlib import Path

from norep.errors import NorepError
from norep.producers.inference.chunks import WORK
from norep.producers.inference.runner import predict_zoo


def run_shard(shard: str, spec: str, data: str, store: str, options: dict) -> list[str]:
    """Run one task of the array: :func:`predict_zoo` on shard ``I/N``; return the models added."""
    return predict_zoo(spec, data, store, shard=shard, progress=False, **options)


def submit_slurm(
    spec: str | Path,
    data: str | Path,
    store: str | Path,
    *,
    shards: int,
    partition: str | None = None,
    gpus: int = 1,
    cpus: int = 10,
    time_minutes: int = 240,
    array_parallelism: int | None = None,
    folder: str | Path | None = None,
    cluster: str | None = None,
    **options,
) -> list:
    """Submit ``shards`` tasks, each filling the store with its share of the zoo.

    Args:
        spec: The catalog YAML.
        data: The image folder.
        store: The store directory, shared by every task.
        shards: Tasks in the array (the zoo is split by model).
        partition: SLURM partition (the cluster's default when None).
        gpus: GPUs per task.
        cpus: CPU cores per task (DataLoader workers use all but one).
        time_minutes: Time limit per task.
        array_parallelism: Tasks running at once (SLURM's ``%`` limit; all when None).
        folder: submitit's folder for scripts and logs (default ``STORE/.inference/submitit``).
        cluster: ``slurm``, ``local`` (processes on this machine, for testing) or None
            (SLURM when ``sbatch`` is found, else local).
        **options: Further arguments of :func:`predict_zoo` (``models``, ``limit``,
            ``batch_size``, ``precision``, ...).

    Returns:
        The submitit jobs, one per shard; ``job.result()`` waits for one.

    Example:
        >>> jobs = submit_slurm("zoos/imagenet_paper.yaml", "/data/val", "runs/imagenet",
        ...                     shards=8, partition="gpu", time_minutes=120)  # doctest: +SKIP
    """
    try:
        import submitit
    except ImportError:
        raise NorepError("submitting to SLURM needs submitit: pip install submitit") from None
    if shards < 1:
        raise NorepError(f"shards must be at least 1, got {shards}")
    store = Path(store).resolve()
    executor = submitit.AutoExecutor(folder=Path(folder) if folder else store / WORK / "submitit",
                                     cluster=cluster)
    parameters = {"name": "norep-predict", "timeout_min": time_minutes, "gpus_per_node": gpus,
                  "cpus_per_task": cpus, "nodes": 1, "tasks_per_node": 1}
    if partition:
        parameters["slurm_partition"] = partition
    if array_parallelism:
        parameters["slurm_array_parallelism"] = array_parallelism
    executor.update_parameters(**parameters)
    options = {**options, "workers": max(cpus - 1, 0) if options.get("workers") is None else options["workers"]}
    names = [f"{index}/{shards}" for index in range(shards)]
    return executor.map_array(run_shard, names, [str(Path(spec).resolve())] * shards,
                              [str(Path(data).resolve())] * shards, [str(store)] * shards,
                              [options] * shards)
