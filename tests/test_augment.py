"""--augment: the shared NumPy crop + flip against a plain reference, identical batches in every adapter, the CLI."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest_data import make_cifar_folder

from frameworks.base import RunSettings
from tasks import cifar10, mnist
from tasks.augment import AugmentError, augment_epoch, crop_flip, draw, reference_crop_flip, with_augment
from tasks.pipeline import batch_slices
from tasks.spec import AugmentSpec
from workbench.run.request import make_request

AUG = AugmentSpec(crop_padding=4, flip=True, mode="shared")


def test_crop_flip_on_a_hand_checked_image():
    image = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)  # rows 0 1 2 / 3 4 5 / 6 7 8
    # corner (0, 0) of the 1-padded image: the image moves one pixel down and right, zeros come in
    moved = crop_flip(image, np.array([[0, 0]]), np.array([False]), padding=1)[0, :, :, 0]
    np.testing.assert_array_equal(moved, [[0, 0, 0], [0, 0, 1], [0, 3, 4]])
    # corner (2, 1): one pixel up, no shift sideways, then flipped left-right
    flipped = crop_flip(image, np.array([[2, 1]]), np.array([True]), padding=1)[0, :, :, 0]
    np.testing.assert_array_equal(flipped, [[5, 4, 3], [8, 7, 6], [0, 0, 0]])
    centre = crop_flip(image, np.array([[1, 1]]), np.array([False]), padding=1)
    np.testing.assert_array_equal(centre, image)  # the middle corner is the image itself


def test_crop_flip_equals_pad_and_slice_for_every_corner():
    rng = np.random.default_rng(0)
    corners = np.array(list(itertools.product(range(9), range(9))) * 2)  # all 81 corners, each with and without flip
    flips = np.arange(len(corners)) >= 81
    X = rng.standard_normal((len(corners), 6, 5, 3)).astype(np.float32)  # not square: H and W kept apart
    out = crop_flip(X, corners, flips, padding=4)
    for i in range(len(X)):
        np.testing.assert_array_equal(out[i], reference_crop_flip(X[i], tuple(corners[i]), flips[i], padding=4))


def test_draw_is_seeded_bounded_and_balanced():
    corners, flips = draw(AUG, seed=0, epoch=1, num_samples=20000)
    assert corners.min() == 0 and corners.max() == 8  # corners span [0, 2 * padding]
    assert abs(flips.mean() - 0.5) < 0.02 and abs(corners.mean() - 4) < 0.1
    again = draw(AUG, seed=0, epoch=1, num_samples=20000)
    np.testing.assert_array_equal(corners, again[0])
    np.testing.assert_array_equal(flips, again[1])
    for other in (draw(AUG, seed=1, epoch=1, num_samples=20000), draw(AUG, seed=0, epoch=2, num_samples=20000)):
        assert (other[0] != corners).any() and (other[1] != flips).any()
    no_flip = AugmentSpec(crop_padding=4, flip=False, mode="shared")
    assert not draw(no_flip, 0, 1, 100)[1].any()


def test_with_augment_needs_a_task_that_states_one():
    spec = with_augment(cifar10.SPEC, "shared")
    assert spec.data.augment == AugmentSpec(crop_padding=4, flip=True, mode="shared")
    assert cifar10.SPEC.data.augment.mode == "off" and with_augment(cifar10.SPEC, None) is cifar10.SPEC
    with pytest.raises(AugmentError, match="task mnist has no augmentation"):
        with_augment(mnist.SPEC, "shared")
    with pytest.raises(AugmentError, match="unknown --augment mode"):
        with_augment(cifar10.SPEC, "sideways")


@pytest.mark.parametrize("argv", [["--task", "mnist", "--augment"], ["--task", "digits", "--augment", "native"],
                                  ["--task", "cifar10", "--augment", "both"]])  # fmt: skip
def test_cli_augment_usage_errors_exit_2(argv, capsys):
    import compare

    assert compare.main(argv) == compare.EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.startswith("compare.py: error:") and "\n" not in err and "augment" in err


class _Recorder:
    """A network that records the bytes of every batch it is asked to train on, then trains as usual."""

    def __init__(self, network, batches: list[bytes]):  # noqa: ANN001
        self._network, self._batches = network, batches

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._network, name)

    def set_train_data(self, X: np.ndarray, y: np.ndarray) -> None:
        self._X = X.copy()
        self._network.set_train_data(X, y)

    def fit_epoch(self, order, on_batch):  # noqa: ANN001, ANN201
        for batch in batch_slices(len(order), self._network.spec.train.batch_size):
            self._batches.append(self._X[order[batch]].tobytes())
        return self._network.fit_epoch(order, on_batch)


class _RecordingModule:
    """An adapter module whose networks are wrapped in _Recorder."""

    def __init__(self, module, batches: list[bytes]):  # noqa: ANN001
        self._module, self._batches = module, batches

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._module, name)

    def create(self, spec, settings, model):  # noqa: ANN001, ANN201
        return _Recorder(self._module.create(spec, settings, model), self._batches)


def _batches_seen(monkeypatch, data_dir: Path, framework: str, seed: int, augment: str | None) -> tuple[list[bytes], object]:  # noqa: ANN001
    """Run one 2-epoch cifar10 row in this process; the batches its network was handed, and its result."""
    from frameworks.base import load_adapter_module
    from workbench.run import driver

    batches: list[bytes] = []
    monkeypatch.setattr(driver, "load_adapter_module", lambda name: _RecordingModule(load_adapter_module(name), batches))
    request = make_request(task="cifar10", framework=framework, model="spec", epochs=2, batch_size=10, seed=seed,
                                data_dir=str(data_dir), augment=augment,
                                settings=RunSettings(threads=1, seed=seed, progress=False))  # fmt: skip
    result = driver.run_one(request)
    assert result.status == "ok", result.message
    return batches, result


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    make_cifar_folder(root, n_train=4, n_test=3)  # 20 training images: 2 batches of 10 per epoch (one compiled shape)
    return root


def test_two_adapters_train_on_byte_identical_augmented_batches(monkeypatch, tiny_cifar):
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    torch_batches, torch_row = _batches_seen(monkeypatch, tiny_cifar, "pytorch", 0, "shared")
    jax_batches, jax_row = _batches_seen(monkeypatch, tiny_cifar, "jax", 0, "shared")
    assert len(torch_batches) == 4 and torch_batches == jax_batches  # 2 epochs x 2 batches, byte for byte
    assert abs(torch_row.train_loss - jax_row.train_loss) < 1e-3  # ...so the two rows still train alike (float32)
    plain, _ = _batches_seen(monkeypatch, tiny_cifar, "pytorch", 0, None)
    assert len(plain) == 4 and all(a != b for a, b in zip(plain, torch_batches))  # the batches really are augmented
    other_seed, _ = _batches_seen(monkeypatch, tiny_cifar, "pytorch", 1, "shared")
    assert len(other_seed) == 4 and all(a != b for a, b in zip(other_seed, torch_batches))  # a new seed, new crops


def test_shared_epoch_images_are_the_numpy_augmentation_of_the_data(tiny_cifar):
    from tasks.augment import with_augment as augmented
    from workbench.run.augmentation import epoch_images

    class NoNative:
        NAME = "none"

    data = cifar10.load(str(tiny_cifar))
    spec = augmented(cifar10.SPEC, "shared")
    images, note = epoch_images(NoNative, spec, RunSettings(), data)
    np.testing.assert_array_equal(images(2, np.arange(20)), augment_epoch(data.X_train, spec.data.augment, 0, 2))
    assert note == ""
    native, note = epoch_images(NoNative, augmented(cifar10.SPEC, "native"), RunSettings(), data)
    assert native is None and note == "none has no native augmentation (--augment native)"


@pytest.mark.parametrize("mode", ["shared", "native"])
def test_cli_augment_reaches_the_child_rows(mode, tiny_cifar, capsys, tmp_path):
    pytest.importorskip("torch")
    import compare

    argv = ["--task", "cifar10", "--data-dir", str(tiny_cifar), "--frameworks", "pytorch", "--epochs", "1",
            "--batch-size", "10", "--quiet", "--augment", mode, "--output", str(tmp_path / "run.json")]  # fmt: skip
    assert compare.main(argv) == compare.EXIT_OK
    out = capsys.readouterr().out
    assert f"augment: {mode} " in out  # the header says what every row trained on
    if mode == "native":  # the row names the ops its framework used
        assert "pytorch / nn.Module + explicit loop (channels-last): ok: native augmentation: torch" in out
