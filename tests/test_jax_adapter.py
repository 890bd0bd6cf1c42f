"""The JAX adapter (Flax NNX + optax) against the NumPy float64 reference, and its stated facts.

Forward, per-layer outputs, gradients and optimizer trajectories on the tiny specs and on every
registered task; the layout round trip; the Adam epsilon placements; what the module says about
Flax (BatchNorm variance, LSTM layout, default Adam) checked against the installed library.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from tiny_specs import MODELS, tiny_task

pytest.importorskip("flax")
pytest.importorskip("optax")

from frameworks import jax as fj  # noqa: E402
from frameworks import layout  # noqa: E402
from frameworks.base import RunSettings  # noqa: E402
from tasks import reference, registry  # noqa: E402
from tasks.init import init_weights  # noqa: E402
from tasks.pipeline import batch_slices  # noqa: E402
from tasks.spec import BatchNorm, Dense, Dropout, ModelSpec, OptimizerSpec, ReLU, count_params  # noqa: E402, F401
from workbench.check import equivalence as eq  # noqa: E402 - check_spec, check_weights, random_inputs

N = 8  # samples per check batch
STEPS = 50  # optimizer steps in the trajectory checks
TASK_STEPS = 5  # ...on the real task specs (the NumPy reference is slow on their sizes)
OPTIMIZERS = {
    "sgd": OptimizerSpec(name="sgd", lr=0.05),
    "adam-corrected": OptimizerSpec(name="adam", lr=1e-2, eps=1e-7, eps_style="corrected"),
    "adam-uncorrected": OptimizerSpec(name="adam", lr=1e-2, eps=1e-7, eps_style="uncorrected"),
}


# the JAX-only numerical tests below run on these; the issue-15 graphs (text, resnet) are checked in every engine,
# JAX included, by the templates (test_templates_checks.py), and their Flax layout round trip is tested here
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
def test_flax_layout_round_trip(name):
    model = MODELS[name]
    weights = {k: np.random.default_rng(1).standard_normal(v.shape) for k, v in eq.check_weights(tiny_task(model), 0).items()}
    flat = layout.to_flax(model, weights)
    again = layout.from_flax(model, flat)
    assert list(again) == list(weights)
    for key in weights:
        np.testing.assert_array_equal(again[key], weights[key])
    grus = sum(type(layer).__name__ == "GRU" for layer in model.layers)  # a GRU's bias (2, 3u) is two Flax biases
    assert len(flat) == len(weights) + grus


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


@pytest.mark.parametrize("name", list(SPECS))
def test_param_count(name):
    spec = SPECS[name]
    assert network(spec, eq.check_weights(spec, 0)).num_params() == count_params(spec.model)


@pytest.mark.parametrize("name", list(SPECS))
def test_forward_and_every_layer_float64(name):
    spec = SPECS[name]
    weights, (X, _) = eq.check_weights(spec, 0), eq.random_inputs(spec, N, 0)
    net = network(spec, weights)
    expected = reference.forward_layers(spec.model, weights, X)
    outputs = net.layer_outputs(X)
    assert len(outputs) == len(expected)
    for out, (label, ref_out) in zip(outputs, expected):
        assert out.dtype == np.float64, label
        np.testing.assert_allclose(out, ref_out, rtol=0, atol=spec.tolerances.forward64, err_msg=label)
    np.testing.assert_allclose(net.predict(X), expected[-1][1], rtol=0, atol=spec.tolerances.forward64)


@pytest.mark.parametrize("name", list(SPECS))
def test_gradients_float64_leave_running_statistics(name):
    spec = SPECS[name]
    weights, (X, y) = eq.check_weights(spec, 0), eq.random_inputs(spec, N, 0)
    net = network(spec, weights)
    loss, grads = net.loss_and_gradients(X, y)
    ref_loss, ref_grads = reference.loss_and_gradients(spec.model, weights, X, y)
    assert abs(loss - ref_loss) <= spec.tolerances.grad64
    assert _max_diff(grads, ref_grads) <= spec.tolerances.grad64
    assert _max_diff(net.get_weights(), weights) == 0.0  # moving statistics untouched


def _trajectory(spec, opt: OptimizerSpec, steps: int) -> tuple[list[dict], list[dict]]:
    """(adapter weights, reference weights) after each of `steps` train_step calls."""
    spec = replace(spec, optimizer=opt)
    weights = eq.check_weights(spec, 0)
    X, y = eq.random_inputs(spec, N * steps, 0)
    batches = [(X[s], y[s]) for s in batch_slices(len(X), N)]
    expected = reference.trajectory(spec.model, weights, batches, opt, fj.UNBIASED_MOVING_VAR)
    net = network(spec, weights)
    got = []
    for X_batch, y_batch in batches:
        net.train_step(X_batch, y_batch)
        got.append(net.get_weights())
    return got, expected


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("name", sorted(JAX_TINY))
def test_trajectory_float64_tiny(name, opt):
    got, expected = _trajectory(SPECS[name], OPTIMIZERS[opt], STEPS)
    worst = max(_max_diff(g, e) for g, e in zip(got, expected))
    assert worst <= SPECS[name].tolerances.trajectory64, worst


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("name", registry.names())
def test_trajectory_float64_tasks(name, opt):
    got, expected = _trajectory(SPECS[name], OPTIMIZERS[opt], TASK_STEPS)
    worst = max(_max_diff(g, e) for g, e in zip(got, expected))
    assert worst <= SPECS[name].tolerances.trajectory64, worst


@pytest.mark.parametrize("name", list(SPECS))
def test_forward_float32_relative(name):
    spec = SPECS[name]
    weights, (X, _) = eq.check_weights(spec, 0), eq.random_inputs(spec, N, 0)
    logits = network(spec, weights, "float32").predict(X)
    assert logits.dtype == np.float32
    expected = reference.forward(spec.model, weights, X)
    assert np.max(np.abs(logits - expected)) <= spec.tolerances.forward32 * max(1.0, np.max(np.abs(expected)))


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
    if fj._gpus():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="sees no GPU"):
        fj.configure(RunSettings(device="cuda"))


@pytest.mark.parametrize("name", ["cnn", "rnn", "cifar10", "sentiment"])
def test_summary_column(name):
    spec = SPECS[name]
    cells = fj.summary_column(spec)
    assert len(cells) == len(spec.model.layers)
    assert sum(int(p.split(" + ")[0].replace(",", "")) for _, p in cells) == count_params(spec.model)
    if name == "cnn":
        assert cells[0] == ("(8, 8, 4)", "112") and cells[1] == ("(8, 8, 4)", "8 + 8 state")


def test_defaults_and_source_names():
    spec = SPECS["sentiment"]
    cells = fj.defaults(spec)
    assert cells["BatchNorm momentum"].startswith("0.99") and cells["Adam epsilon"].startswith("1e-08")
    assert "lecun_normal" in cells["kernel init (Dense, Conv)"]
    for names in fj.source_names(spec).values():
        for dotted in names:
            target = fj
            for part in dotted.split("."):
                target = getattr(target, part)
    assert "scale_by_adam_uncorrected_eps" in fj.source_names(spec)["The optimizer"]
