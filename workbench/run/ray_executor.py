"""The Ray executor: each row is a Ray task that runs it in a fresh child process, on any node of a cluster.

A task asks for `num_cpus` = the row's threads (and one GPU for CUDA rows), so Ray never puts more rows
on a node at once than it has CPUs for. Ray is imported only here, and only when `--executor ray` is used.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from typing import Iterator

from workbench.errors import UsageError
from workbench.run.child import failed_row
from workbench.run.request import RunRequest
from workbench.run.result import RunResult
from workbench.run.runner import RunPlan, finish_row, kept_row, run_in_child

RAY_EXTRA = "pip install .[ray]"
CONNECT_TIMEOUT_S = 5.0  # for the reachability probe of --ray-address, before Ray's own (long) retries
PROBE_TIMEOUT_S = 60.0  # for the per-node core count probe
POLL_S = 0.5  # ray.wait timeout, so Ctrl-C is seen at once


class ExecutorError(UsageError):
    """Ray is missing, unreachable or cannot run the plan: one line, exit code 2."""


def require_ray() -> None:
    """Raise ExecutorError naming the extra to install if Ray cannot be imported."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed: {RAY_EXTRA}") from None


def resolve_address(address: str) -> str:
    """HOST:PORT of the cluster ('auto' looks up the running one); ExecutorError if nothing answers there."""
    from ray._private import services

    try:
        resolved = services.canonicalize_bootstrap_address_or_die(address)
        host, port = services.parse_address(resolved)
    except (ConnectionError, ValueError, TypeError) as exc:
        raise ExecutorError(f"--ray-address {address}: {' '.join(str(exc).split())}") from None
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ExecutorError(f"--ray-address {address}: cannot reach a Ray cluster at {host}:{port} ({reason})") from None
    return resolved


def connect(address: str | None) -> bool:
    """Join the cluster at `address`, or start a local Ray instance; False if Ray was already initialised."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": bool(os.environ.get("FRAMEBENCH_DEBUG"))}
    try:
        if address is None:
            ray.init(include_dashboard=False, **quiet)
        else:
            ray.init(address=resolve_address(address), **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"--ray-address {address}" if address else "a local Ray instance"
        raise ExecutorError(f"{where}: {' '.join(str(exc).split())[:300]}") from None
    return True


def forwarded_env() -> dict[str, str]:
    """The driver's variables that the rows need on every node: FRAMEBENCH_* (data, plugins) and PYTHONPATH."""
    return {k: v for k, v in os.environ.items() if k.startswith("FRAMEBENCH_") or k == "PYTHONPATH"}


def node_label() -> str:
    """This Ray node as 'IP/node id' (the id tells apart several nodes on one machine)."""
    import ray

    return f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:8]}"


def run_row_task(request: dict, timeout_s: float | None, env: dict[str, str]) -> tuple[dict, str]:
    """The Ray task: one row in a fresh child process on this node; returns the result's dict and the node."""
    from dataclasses import asdict

    env = dict(env)
    paths = [env.get("PYTHONPATH", ""), os.environ.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)  # the driver's entries, then this node's
    result = run_in_child(RunRequest.from_dict(request), timeout_s, env)
    return asdict(result), node_label()


def node_cores() -> tuple[str, int]:
    """A probe task: this node's IP and the cores this process may use."""
    import ray

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return ray.util.get_node_ip_address(), cores


def wants_gpu(request: RunRequest, cluster_gpus: float) -> bool:
    """CUDA rows (and 'auto' rows on a cluster with GPUs) take one GPU each."""
    device = request.settings.device
    return device == "cuda" or (device == "auto" and cluster_gpus > 0)


def check_nodes(requests: list[RunRequest]) -> None:
    """Every row must fit on some node (else it would wait forever); warn where Ray offers more CPUs than cores."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    gpus = ray.cluster_resources().get("GPU", 0)
    most_cpus = max((n["Resources"].get("CPU", 0) for n in nodes), default=0)
    threads = max(r.settings.threads for r in requests)
    if threads > most_cpus:
        raise ExecutorError(f"--threads {threads}: no Ray node has {threads} CPUs (the largest has {most_cpus:g}); "
                            "lower --threads or add a larger node")  # fmt: skip
    if any(r.settings.device == "cuda" for r in requests) and gpus == 0:
        raise ExecutorError("--device cuda: no Ray node has a GPU")
    probe = ray.remote(num_cpus=0, max_retries=0)(node_cores)
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
            for n in nodes]  # fmt: skip
    offered: dict[str, float] = {}
    for n in nodes:
        offered[n["NodeManagerAddress"]] = offered.get(n["NodeManagerAddress"], 0) + n["Resources"].get("CPU", 0)
    try:
        cores_by_ip = dict(ray.get(refs, timeout=PROBE_TIMEOUT_S))
    except (ray.exceptions.GetTimeoutError, ray.exceptions.RayError):
        return  # a node too busy or gone to answer: its rows will show it; the check is only a warning
    for ip, cores in cores_by_ip.items():
        if offered.get(ip, 0) > cores:
            print(f"framebench: warning: Ray offers {offered[ip]:g} CPUs on {ip}, which has {cores} cores: rows there "
                  f"may share cores (start its nodes with `ray start --num-cpus` adding up to {cores})",
                  file=sys.stderr)  # fmt: skip


def _collect(ref, request: RunRequest, plan: RunPlan) -> RunResult:  # noqa: ANN001 - a ray.ObjectRef
    """The task's row; a dead worker or node is a `crashed` row, a bug in the task an `error` row."""
    import ray

    try:
        data, node = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if exc.cause is not None else exc
        message = f"{type(cause).__name__}: {(str(cause).strip().splitlines() or ['(no message)'])[0][:200]}"
        return finish_row(failed_row(request, "error", message), request, plan, "")
    except ray.exceptions.RayError as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        message = f"Ray worker or node died ({type(exc).__name__}): {first}"
        return finish_row(failed_row(request, "crashed", message), request, plan, "")
    return finish_row(RunResult.from_dict(data), request, plan, node)


def run_rows(plan: RunPlan) -> Iterator[tuple[int, RunResult]]:
    """(plan index, result) as each row finishes; closing the iterator cancels the rows still running."""
    require_ray()
    import ray

    todo = []
    for index, request in enumerate(plan.requests):
        kept = kept_row(request, plan)
        if kept is not None:
            yield index, kept
        else:
            todo.append((index, request))
    if not todo:
        return
    started = connect(plan.ray_address)
    refs: dict = {}
    try:
        check_nodes([request for _, request in todo])
        task = ray.remote(max_retries=0)(run_row_task)  # a rerun would hide the crash and skew the timings
        gpus, env = ray.cluster_resources().get("GPU", 0), forwarded_env()
        for index, request in todo:
            options = {"num_cpus": request.settings.threads, "num_gpus": 1 if wants_gpu(request, gpus) else 0}
            refs[task.options(**options).remote(request.to_dict(), plan.timeout_s, env)] = (index, request)
        finished, start = 0, time.monotonic()
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
            for ref in ready:
                index, request = refs.pop(ref)
                result = _collect(ref, request, plan)
                finished += 1
                if not plan.quiet:
                    print(f"framebench: [{finished}/{len(todo)}] {result.framework} / {result.model} seed {result.seed}: "
                          f"{result.status} on {result.node or '?'} after {time.monotonic() - start:.1f} s", file=sys.stderr)  # fmt: skip
                yield index, result
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)  # kills the worker; its child dies with it (PR_SET_PDEATHSIG)
        if started:
            ray.shutdown()
