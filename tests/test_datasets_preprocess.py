"""Preprocessing and batches: scaling, train-only statistics, stratified splits, seeded resumable batches."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from nnstudio.datasets import (BatchIterator, DatasetError, Standardizer, load_dataset, prepare, scale,
                               stratified_split, to_layout, train_val_split)


@pytest.fixture(scope="module")
def embedded():
    return load_dataset("mnist-embedded")


def test_scale_uint8_to_unit_float32():
    x = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    out = scale(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x / 255.0, rtol=1e-6)
    assert out[0, 0] == 0.0 and out[0, 3] == 1.0


def test_scale_rejects_other_integers():
    with pytest.raises(DatasetError, match="int32"):
        scale(np.zeros(3, np.int32))


def test_layouts_are_views(embedded):
    flat = embedded.x_train
    image = to_layout(flat, "image", embedded.image_shape)
    assert image.shape == (5000, 1, 28, 28) and np.shares_memory(image, flat)
    assert to_layout(image, "flat", embedded.image_shape).shape == (5000, 784)
    with pytest.raises(DatasetError, match="layout must be"):
        to_layout(flat, "nchw", embedded.image_shape)


def test_standardizer_uses_given_rows_only():
    rng = np.random.default_rng(0)
    train, test = rng.normal(3, 2, (1000, 5)).astype(np.float32), rng.normal(-7, 9, (100, 5)).astype(np.float32)
    stats = Standardizer.fit(train)
    np.testing.assert_allclose(stats.mean, train.mean(dtype=np.float64), rtol=1e-5)
    np.testing.assert_allclose(stats.std, train.std(dtype=np.float64), rtol=1e-5)
    out = stats.apply(test)
    np.testing.assert_allclose(out, (test - stats.mean) / stats.std, rtol=1e-5)
    per = Standardizer.fit(train, per_feature=True)
    assert per.mean.shape == (5,)
    standardized = per.apply(train.copy(), inplace=True)
    np.testing.assert_allclose(standardized.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(standardized.std(axis=0), 1, atol=1e-4)
    assert Standardizer.from_dict(json.loads(json.dumps(per.to_dict()))).mean.tolist() == per.mean.tolist()


def test_standardizer_constant_feature_does_not_divide_by_zero():
    stats = Standardizer.fit(np.zeros((10, 3), np.float32), per_feature=True)
    assert np.isfinite(stats.apply(np.ones((2, 3), np.float32))).all()


def test_stratified_split_is_deterministic_and_stratified():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    train, val = stratified_split(y, 0.2, seed=1)
    again_train, again_val = stratified_split(y, 0.2, seed=1)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(val, again_val)
    assert not np.array_equal(val, stratified_split(y, 0.2, seed=2)[1])
    assert np.bincount(y[val]).tolist() == [20, 10, 6, 4]
    assert np.intersect1d(train, val).size == 0 and np.union1d(train, val).size == len(y)


def test_stratified_split_of_regression_targets_and_edges():
    y = np.linspace(0, 1, 50, dtype=np.float32)[:, None]
    train, val = stratified_split(y, 0.1, seed=0)
    assert len(val) == 5 and len(train) == 45
    assert len(stratified_split(y, 0.0)[1]) == 0
    with pytest.raises(DatasetError, match="validation fraction"):
        stratified_split(y, 1.0)


def test_train_val_split_returns_matching_rows():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20) % 2
    x_tr, y_tr, x_val, y_val = train_val_split(x, y, 0.25, seed=0)
    assert len(x_tr) + len(x_val) == 20
    np.testing.assert_array_equal(x_val[:, 0] // 2 % 2, y_val)
    np.testing.assert_array_equal(x_tr[:, 0] // 2 % 2, y_tr)


def test_prepare_makes_one_float_copy_in_split_order(embedded):
    data = prepare(embedded, val_fraction=0.1, seed=3, standardize=True, layout="image")
    assert data.x_train.shape == (4500, 1, 28, 28) and data.x_val.shape == (500, 1, 28, 28)
    assert data.x_train.dtype == data.x_test.dtype == np.float32
    assert data.x_train.base is not None and data.x_train.base is data.x_val.base
    assert np.bincount(data.y_val).tolist() == [50] * 10
    # statistics of the training rows only, applied to all
    train_rows = embedded.x_train[data.train_index].astype(np.float64) / 255
    np.testing.assert_allclose(data.standardizer.mean, train_rows.mean(), rtol=1e-5)
    np.testing.assert_allclose(data.standardizer.std, train_rows.std(), rtol=1e-5)
    expected_val = (embedded.x_train[data.val_index] / np.float32(255) - data.standardizer.mean) / data.standardizer.std
    np.testing.assert_allclose(data.x_val.reshape(500, -1), expected_val, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(data.y_train, embedded.y_train[data.train_index])
    json.dumps(data.normalisation)


def test_prepare_memory_is_one_float32_copy(embedded):
    raw_bytes = embedded.x_train.nbytes + embedded.x_test.nbytes
    tracemalloc.start()
    try:
        data = prepare(embedded, standardize=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * raw_bytes + 6_000_000, f"peak {peak / 1e6:.1f} MB for {4 * raw_bytes / 1e6:.1f} MB of float32"
    assert data.x_train.nbytes + data.x_val.nbytes == 4 * embedded.x_train.nbytes


def test_prepare_synthetic_data():
    data = prepare(load_dataset("sine2d", size=100), val_fraction=0.2)
    assert data.x_train.shape == (80, 2) and data.y_val.shape == (20, 1) and data.normalisation["scale"] is None


# ----------------------------------------------------------------------------------- batches

def _epoch(batches):
    return [(xb.copy(), yb.copy()) for xb, yb in batches]


def test_batches_cover_every_row_once_and_keep_the_last_partial():
    x = np.arange(103 * 2).reshape(103, 2)
    y = np.arange(103)
    batches = BatchIterator(x, y, batch_size=10, seed=0)
    assert len(batches) == 11
    epoch = _epoch(batches)
    assert [len(yb) for _, yb in epoch] == [10] * 10 + [3]
    seen = np.concatenate([yb for _, yb in epoch])
    assert sorted(seen.tolist()) == list(range(103))
    for xb, yb in epoch:
        np.testing.assert_array_equal(xb[:, 0] // 2, yb)
    assert batches.epoch == 1


def test_each_epoch_reshuffles_and_a_seed_repeats():
    y = np.arange(50)
    a, b = BatchIterator(y, y, 8, seed=5), BatchIterator(y, y, 8, seed=5)
    first, second = _epoch(a), _epoch(a)
    assert not np.array_equal(np.concatenate([t for _, t in first]), np.concatenate([t for _, t in second]))
    for (_, ya), (_, yb) in zip(first + second, _epoch(b) + _epoch(b)):
        np.testing.assert_array_equal(ya, yb)


def test_state_round_trip_mid_epoch_continues_the_same_order():
    y = np.arange(64)
    reference = BatchIterator(y, y, 5, seed=11)
    expected = [yb for _, yb in _epoch(reference)] + [yb for _, yb in _epoch(reference)]

    run = BatchIterator(y, y, 5, seed=11)
    got = []
    for i, (_, yb) in enumerate(run):
        got.append(yb.copy())
        if i == 6:
            state = json.loads(json.dumps(run.get_state()))  # a checkpoint survives JSON
            break
    resumed = BatchIterator(y, y, 5, seed=999)
    resumed.set_state(state)
    got += [yb for _, yb in _epoch(resumed)]  # the rest of the first epoch
    got += [yb for _, yb in _epoch(resumed)]  # the whole second one
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    assert resumed.epoch == 2


def test_state_at_an_epoch_boundary():
    y = np.arange(30)
    a = BatchIterator(y, y, 7, seed=2)
    _epoch(a)
    state = a.get_state()
    assert state["position"] == 0 and state["epoch"] == 1
    b = BatchIterator(y, y, 7, seed=0)
    b.set_state(state)
    for (_, ya), (_, yb) in zip(_epoch(a), _epoch(b)):
        np.testing.assert_array_equal(ya, yb)


def test_bad_state_is_a_dataset_error():
    y = np.arange(10)
    with pytest.raises(DatasetError):
        BatchIterator(y, y, 2).set_state({"epoch": 0})
    state = BatchIterator(y, y, 2).get_state()
    state["position"] = 11
    with pytest.raises(DatasetError, match="row 11"):
        BatchIterator(y, y, 2).set_state(state)


def test_a_broken_off_epoch_is_continued():
    y = np.arange(20)
    batches = BatchIterator(y, y, 4, seed=0)
    for _ in batches:
        break
    rest = _epoch(batches)
    assert len(rest) == 4 and batches.epoch == 1


def test_indices_drop_last_and_batch_size_changes():
    y = np.arange(100)
    subset = np.arange(0, 100, 3)
    batches = BatchIterator(y, y, 8, indices=subset, drop_last=True, seed=0)
    assert len(batches) == 4
    epoch = _epoch(batches)
    assert all(len(yb) == 8 for _, yb in epoch) and set(np.concatenate([t for _, t in epoch])) <= set(subset)

    growing = BatchIterator(y, y, 10, seed=0)
    sizes = []
    for _, yb in growing:
        sizes.append(len(yb))
        growing.batch_size = 30
    assert sizes == [10, 30, 30, 30]
    with pytest.raises(DatasetError):
        growing.batch_size = 0


def test_unshuffled_batches_are_views_in_order():
    x = np.arange(40).reshape(20, 2)
    epoch = list(BatchIterator(x, np.arange(20), 6, shuffle=False))
    assert all(np.shares_memory(xb, x) for xb, _ in epoch)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in epoch]), np.arange(20))


def test_an_epoch_never_copies_the_whole_array():
    x = np.zeros((20000, 784), np.float32)  # 63 MB
    y = np.zeros(20000, np.int64)
    batches = BatchIterator(x, y, 64, seed=0)
    tracemalloc.start()
    try:
        for _ in batches:
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"one epoch allocated {peak / 1e6:.1f} MB at its peak"


def test_length_mismatch():
    with pytest.raises(DatasetError, match="differ in length"):
        BatchIterator(np.zeros(3), np.zeros(4), 2)
