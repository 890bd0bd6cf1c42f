"""Facts of the JAX engine (Flax NNX + optax): its layout, its optimizers, its jitted loop, what it says about Flax.

Forward, gradients and trajectories against the NumPy reference are the templates' (test_templates_checks.py, every
engine); here: the Flax layout round trip, the LSTM cell's layout, optax's Adam epsilon placements, the learning rate
without recompiling, and what the module says about Flax (BatchNorm variance, defaults, summary) against the library.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from tiny_specs import MODELS, tiny_task

pytest.importorskip("flax")
pytest.importorskip("optax")

from frameworks import jax as fj  # noqa: E402
from frameworks import jax_runtime, layout  # noqa: E402
from frameworks.base import RunSettings  # noqa: E402
from tasks import reference, registry  # noqa: E402
from tasks.init import init_weights  # noqa: E402
from tasks.pipeline import batch_slices  # noqa: E402
from tasks.spec import BatchNorm, Dense, Dropout, ModelSpec, OptimizerSpec, ReLU, is_trainable, layer_name, layer_shapes  # noqa: E402
from tasks.spec import param_shapes  # noqa: E402
from workbench.check import equivalence as eq  # noqa: E402 - check_spec, check_weights, random_inputs

N = 8  # samples per check batch
STEPS = 50  # optimizer steps in the optimizer checks
# the JAX-only tests below run on these and on the tasks' specs; every tiny spec's Flax layout round trip is tested here
JAX_TINY = ("cnn", "mlp", "rnn")


def _specs() -> dict:
    tiny = {name: tiny_task(MODELS[name], batch_size=N) for name in JAX_TINY}
    return {**tiny, **{name: eq.check_spec(registry.get(name).spec, N) for name in registry.names()}}


SPECS = _specs()


def network(spec, weights, dtype: str = "float64", seed: int = 0) -> fj.Network:
    """A built JAX network for `spec` (JAX configured for `dtype` first: x64 follows it)."""
    settings = RunSettings(dtype=dtype, threads=1, seed=seed)
    fj.configure(settings)
    net = fj.create(spec, settings, "spec")
    net.build(weights)
    return net


def _max_diff(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b)
    return max(float(np.max(np.abs(np.asarray(a[k], np.float64) - b[k]))) for k in b)


# ---------------------------------------------------------------- layout


@pytest.mark.parametrize("name", sorted(MODELS))
def test_flax_splits_each_gru_bias_in_two(name):
    """A Flax fact (the round trip itself is tests/test_layout.py's, for every layout): nnx.GRUCell keeps a GRU's
    (2, 3u) bias as two biases, so the Flax weights have one more array per GRU layer and no other extra."""
    model = MODELS[name]
    weights = eq.check_weights(tiny_task(model), 0)
    grus = sum(type(layer).__name__ == "GRU" for layer in model.layers)
    assert len(layout.to_flax(model, weights)) == len(weights) + grus


def test_flax_names_of_batchnorm_and_lstm():
    cnn, rnn = layout.to_flax(MODELS["cnn"], {"batchnorm_1.gamma": 1, "batchnorm_1.moving_var": 2}), layout.to_flax(
        MODELS["rnn"], {"lstm_1.kernel": 1, "lstm_1.recurrent_kernel": 2, "lstm_1.bias": 3}
    )
    assert cnn == {"layers.1.scale": 1, "layers.1.var": 2}
    assert rnn == {"layers.1.rnn.cell.dense_i.kernel": 1, "layers.1.rnn.cell.dense_h.kernel": 2, "layers.1.rnn.cell.dense_h.bias": 3}


def test_every_flax_variable_is_mapped():
    """set_weights fills every Param and BatchStat: none keeps Flax's own initialisation."""
    for name in ("mlp", "cnn", "rnn"):
        spec = SPECS[name]
        net = network(spec, eq.check_weights(spec, 0))
        assert sorted(net._variables()) == sorted(layout.to_flax(spec.model, eq.check_weights(spec, 0)))


def test_optimized_lstm_cell_layout_and_carry_order():
    """Facts layout.py relies on: one bias in dense_h, gates i, f, g, o, carry (c, h)."""
    from flax import nnx

    fj.configure(RunSettings(dtype="float64", threads=1))
    units, rng = 3, np.random.default_rng(0)
    cell = nnx.OptimizedLSTMCell(2, units, rngs=nnx.Rngs(0), param_dtype=np.float64, dtype=np.float64)
    assert cell.dense_i.bias is None and cell.dense_h.bias[...].shape == (4 * units,)
    x = rng.standard_normal((4, 2))
    carry = (rng.standard_normal((4, units)), rng.standard_normal((4, units)))  # (c, h)
    (c, h), out = cell(carry, x)
    z = x @ np.asarray(cell.dense_i.kernel[...]) + carry[1] @ np.asarray(cell.dense_h.kernel[...]) + np.asarray(cell.dense_h.bias[...])
    i, f, g, o = np.split(z, 4, axis=1)
    c_expected = reference.sigmoid(f) * carry[0] + reference.sigmoid(i) * np.tanh(g)
    np.testing.assert_allclose(c, c_expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h, reference.sigmoid(o) * np.tanh(c_expected), rtol=0, atol=1e-14)
    np.testing.assert_array_equal(out, h)


# ---------------------------------------------------------------- equivalence with the reference, float64


# ---------------------------------------------------------------- optimizers


@pytest.mark.parametrize("eps_style", ["corrected", "uncorrected"])
def test_optax_adam_matches_reference_adam(eps_style):
    """make_optimizer alone: 50 steps on random gradients, both epsilon placements, to 1e-10."""
    import jax.numpy as jnp
    import optax

    fj.configure(RunSettings(dtype="float64", threads=1))
    opt = OptimizerSpec(name="adam", lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-3, eps_style=eps_style)  # a large eps shows
    rng = np.random.default_rng(0)
    params = {"dense_0.kernel": rng.standard_normal((3, 2))}
    tx = fj.make_optimizer(opt, jnp.float64)
    state, mine, ref_state = tx.init(params), dict(params), None
    for _ in range(STEPS):
        grads = {"dense_0.kernel": 1e-3 * rng.standard_normal((3, 2))}  # small gradients: eps matters
        updates, state = tx.update(grads, state, mine)
        mine = optax.apply_updates(mine, updates)
        params, ref_state = reference.adam_step(params, grads, ref_state, lr=opt.lr, beta_1=opt.beta_1,
                                                beta_2=opt.beta_2, eps=opt.eps, eps_style=eps_style)  # fmt: skip
    assert _max_diff(mine, params) <= 1e-10
    other = "uncorrected" if eps_style == "corrected" else "corrected"
    assert _max_diff(mine, _reference_adam(opt, other, rng_seed=0)) > 1e-6  # the placement matters here


def _reference_adam(opt: OptimizerSpec, eps_style: str, rng_seed: int) -> dict:
    rng = np.random.default_rng(rng_seed)
    params, state = {"dense_0.kernel": rng.standard_normal((3, 2))}, None
    for _ in range(STEPS):
        grads = {"dense_0.kernel": 1e-3 * rng.standard_normal((3, 2))}
        params, state = reference.adam_step(params, grads, state, lr=opt.lr, beta_1=opt.beta_1, beta_2=opt.beta_2,
                                            eps=opt.eps, eps_style=eps_style)  # fmt: skip
    return params


def test_default_optimizer_is_what_optax_adam_does():
    """default_optimizer('adam') describes optax.adam(lr): checked by running optax.adam itself."""
    import optax

    fj.configure(RunSettings(dtype="float64", threads=1))
    opt = replace(fj.default_optimizer("adam"), lr=1e-3)
    assert (opt.eps, opt.eps_style) == (1e-8, "corrected")
    rng = np.random.default_rng(0)
    params = {"dense_0.kernel": rng.standard_normal((3, 2))}
    tx = optax.adam(opt.lr)
    state, mine, ref_state = tx.init(params), dict(params), None
    for _ in range(20):
        grads = {"dense_0.kernel": 1e-6 * rng.standard_normal((3, 2))}  # sqrt(v_hat) ~ eps: placement shows
        updates, state = tx.update(grads, state, mine)
        mine = optax.apply_updates(mine, updates)
        params, ref_state = reference.adam_step(params, grads, ref_state, lr=opt.lr, beta_1=opt.beta_1,
                                                beta_2=opt.beta_2, eps=opt.eps, eps_style=opt.eps_style)  # fmt: skip
    assert _max_diff(mine, params) <= 1e-12


def test_set_learning_rate_without_recompiling():
    spec = SPECS["mlp"]
    weights, (X, y) = eq.check_weights(spec, 0), eq.random_inputs(spec, N, 0)
    net = network(spec, weights)
    net.train_step(X, y)
    compiled = net._train_step._cache_size()
    net.set_learning_rate(0.0)
    before = net.get_weights()
    net.train_step(X, y)
    assert _max_diff(net.get_weights(), before) == 0.0  # lr 0: nothing moves
    assert net._train_step._cache_size() == compiled


# ---------------------------------------------------------------- the epoch loop and the facts


def test_fit_epoch_is_the_loop_of_train_steps():
    """fit_epoch = train_step over the shared order's batches; its loss is the mean over samples."""
    spec = SPECS["cnn"]
    weights, (X, y) = eq.check_weights(spec, 0), eq.random_inputs(spec, 3 * N + 3, 0)  # a smaller last batch
    order = np.random.default_rng(5).permutation(len(X))
    looped = network(spec, weights)
    losses = [looped.train_step(X[order[s]], y[order[s]]) * len(order[s]) for s in batch_slices(len(X), N)]
    net, seen = network(spec, weights), []
    net.set_train_data(X, y)
    loss = net.fit_epoch(order, seen.append)
    assert seen == [N, N, N, 3]
    assert abs(loss - sum(losses) / len(X)) <= 1e-12
    assert _max_diff(net.get_weights(), looped.get_weights()) == 0.0


def test_batchnorm_running_variance_is_biased():
    """UNBIASED_MOVING_VAR as measured: one step's running var matches the biased update only."""
    spec = tiny_task(ModelSpec(input_shape=(3,), layers=(Dense(4), BatchNorm(momentum=0.3), ReLU(), Dense(2))), batch_size=N)
    weights, (X, y) = eq.check_weights(spec, 0), eq.random_inputs(spec, N, 0)
    net = network(spec, weights)
    net.train_step(X, y)
    got = net.get_weights()["batchnorm_1.moving_var"]
    for unbiased in (True, False):
        expected = reference.batchnorm_moving_update(spec.model, weights, X, unbiased)["batchnorm_1.moving_var"]
        assert (np.max(np.abs(got - expected)) <= 1e-12) == (unbiased == fj.UNBIASED_MOVING_VAR)


def test_dropout_uses_the_seed_and_is_off_in_predict():
    spec = tiny_task(ModelSpec(input_shape=(12,), layers=(Dense(16), ReLU(), Dropout(0.5), Dense(3))), batch_size=N)
    weights, (X, y) = eq.check_weights(spec, 0), eq.random_inputs(spec, N, 0)
    losses = [network(spec, weights, seed=s).train_step(X, y) for s in (0, 0, 1)]
    assert losses[0] == losses[1] != losses[2]
    np.testing.assert_allclose(network(spec, weights).predict(X), reference.forward(spec.model, weights, X), rtol=0, atol=1e-12)


def test_float64_needs_configure():
    import jax

    fj.configure(RunSettings(dtype="float32", threads=1))
    assert not jax.config.jax_enable_x64  # JAX's default: float32 only
    with pytest.raises(RuntimeError, match="jax_enable_x64"):
        fj.create(SPECS["mlp"], RunSettings(dtype="float64"), "spec")


def test_cuda_without_gpu_is_one_line_error():
    if jax_runtime.gpus():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="sees no GPU"):
        fj.configure(RunSettings(device="cuda"))


@pytest.mark.parametrize("name", ["cnn", "rnn", "cifar10", "sentiment"])
def test_summary_column_counts_what_the_spec_computes(name):
    """Each Flax layer's output shape and its Param / BatchStat sizes are the spec's own shapes (computed, not typed)."""
    spec = SPECS[name]
    cells, shapes = fj.summary_column(spec), param_shapes(spec.model)
    assert len(cells) == len(spec.model.layers)
    for i, (layer, (_, out_shape), (shape, params)) in enumerate(zip(spec.model.layers, layer_shapes(spec.model), cells)):
        sizes = {k: int(np.prod(v)) for k, v in shapes.items() if k.startswith(layer_name(i, layer) + ".")}
        trainable = sum(n for k, n in sizes.items() if is_trainable(k))
        state = sum(sizes.values()) - trainable
        assert (shape, params) == (str(tuple(out_shape)), f"{trainable:,}" + (f" + {state:,} state" if state else "")), i


def test_defaults_and_source_names():
    """The BatchNorm momentum and Adam epsilon cells state what Flax and optax do: one step of each measures them."""
    import jax.numpy as jnp
    import optax
    from flax import nnx

    spec = SPECS["sentiment"]
    cells = fj.defaults(spec)
    bn = nnx.BatchNorm(1, rngs=nnx.Rngs(0))  # running mean 0; a batch of mean 1 moves it to 1 - momentum (the OLD weight)
    bn(jnp.array([[0.0], [2.0]]), use_running_average=False)
    assert float(cells["BatchNorm momentum"].split()[0]) == pytest.approx(1 - float(bn.mean[...][0]), rel=1e-6)
    g = 1e-8  # Adam's first step is -lr * g / (|g| + eps), eps added to sqrt(v_hat): eps = g / |step| - g at lr 1
    step = optax.adam(1.0).update(jnp.array([g]), optax.adam(1.0).init(jnp.zeros(1)))[0]
    assert float(cells["Adam epsilon"].split(",")[0]) == pytest.approx(g / abs(float(step[0])) - g, rel=1e-4)
    assert "lecun_normal" in cells["kernel init (Dense, Conv)"]
    for names in fj.source_names(spec).values():
        for dotted in names:
            target = fj
            for part in dotted.split("."):
                target = getattr(target, part)
    assert "scale_by_adam_uncorrected_eps" in fj.source_names(spec)["The optimizer"]
