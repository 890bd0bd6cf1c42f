"""What the profile scripts share (compile_profile.py, keras_xla_profile.py): a random training set of the task's
shape, and a workbench adapter's network built in one mode, warmed up, and its steady epochs timed."""

from __future__ import annotations

import statistics
import time
from types import ModuleType

import numpy as np

from frameworks.base import RunSettings
from tasks.init import init_weights
from tasks.spec import TaskSpec


def random_training_set(spec: TaskSpec, samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, order): float32 inputs of the spec's shape, integer labels of its classes, the samples in order."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((samples, *spec.model.input_shape)).astype("float32")
    y = rng.integers(0, spec.model.layers[-1].units, samples)
    return X, y, np.arange(samples)


def timed_network(adapter: ModuleType, spec: TaskSpec, mode: str, threads: int, data: tuple, repeats: int):  # noqa: ANN201
    """(the adapter's network in `mode`, the median of `repeats` steady epochs in s) after one warm-up epoch
    (compilation, tracing, the allocator); `data` is random_training_set's."""
    X, y, order = data
    settings = RunSettings(dtype="float32", threads=threads, progress=False, mode=mode)
    adapter.configure(settings)
    network = adapter.create(spec, settings)
    network.build(init_weights(spec.model, spec.init, spec.train.seed))
    network.set_train_data(X, y)
    network.fit_epoch(order, lambda n: None)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        network.fit_epoch(order, lambda n: None)
        times.append(time.perf_counter() - start)
    return network, statistics.median(times)
