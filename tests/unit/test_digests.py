"""The one digest of data (sweeps/data/_digest.py) where it is used: the spec's
``data.digest`` of arrays given from Python (part of the sweep's identity) and the MLflow
dataset digest of each split (tracking/datasets.py). It must follow the content, all of it,
and nothing else, and give the same arrays one id in both places."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sweeps.data import content_digest, load_dataset
from sweeps.spec import DataSpec, parse_spec_dict
from sweeps.state import spec_hash
from tracking import tags as T
from tracking.datasets import SweepDatasets


def spec_digest(data: Any) -> str:
    """``data.digest`` of a spec given ``data`` from Python, as ``sweeps.tune`` gives it."""
    spec = parse_spec_dict({"name": "t", "data": {}, "hypermodel": {"name": "mlp"}}, "t",
                           objects={"data": data})
    assert spec.data.digest is not None
    return spec.data.digest


def arrays(n: int = 12_000) -> tuple[np.ndarray, np.ndarray]:
    """More values than MLflow's own digest reads (its first 10,000)."""
    x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    return x, np.arange(n) % 3


DIGESTS = {"spec": lambda x, y: spec_digest((x, y)),
           "tracking": lambda x, y: content_digest((x, y))}


@pytest.fixture(params=list(DIGESTS))
def digest(request: pytest.FixtureRequest) -> Any:
    return DIGESTS[request.param]


def test_the_same_content_gives_the_same_digest(digest: Any) -> None:
    x, y = arrays()
    assert digest(x, y) == digest(x.copy(), y.copy())
    assert len(digest(x, y)) == 16 and int(digest(x, y), 16) >= 0


def test_a_change_past_the_first_ten_thousand_values_changes_it(digest: Any) -> None:
    x, y = arrays()
    changed_x, changed_y = x.copy(), y.copy()
    changed_x[-1, -1] += 1
    changed_y[-1] = (changed_y[-1] + 1) % 3
    assert len({digest(x, y), digest(changed_x, y), digest(x, changed_y)}) == 3


def test_dtype_and_shape_are_part_of_it(digest: Any) -> None:
    x, y = arrays(60)
    same_bytes = x.view(np.int32)  # the very same bytes, read as integers
    assert digest(same_bytes, y) != digest(x, y)
    assert digest(x.reshape(30, 4), y) != digest(x, y)
    assert digest(x.astype(np.float64), y) != digest(x, y)
    assert digest(y, x) != digest(x, y)  # which array is which


def test_a_strided_view_digests_as_its_copy(digest: Any) -> None:
    x, y = arrays(60)
    view, labels = x[::2, ::-1], y[::2]
    assert not view.flags.c_contiguous
    assert digest(view, labels) == digest(np.ascontiguousarray(view), labels.copy())


def test_spec_digest_covers_every_split_given() -> None:
    x, y = arrays(60)
    pair = spec_digest((x, y))
    with_test = spec_digest(((x, y), (x[:10], y[:10])))
    mapping = spec_digest({"train": (x, y), "validation": (x[:10], y[:10])})
    assert len({pair, with_test, mapping}) == 3
    assert mapping == spec_digest({"validation": (x[:10], y[:10]), "train": (x, y)})  # key order
    assert spec_digest([x.tolist(), y.tolist()]) == spec_digest([x.tolist(), y.tolist()])


def test_spec_digest_decides_the_sweeps_identity() -> None:
    def identity(data: Any) -> str:
        return spec_hash(parse_spec_dict({"name": "t", "data": {}, "hypermodel": "mlp"}, "t",
                                         objects={"data": data}))

    x, y = arrays(60)
    assert identity((x, y)) == identity((x.copy(), y.copy()))
    assert identity((x, y)) != identity((x, (y + 1) % 3))


def test_each_split_is_logged_under_its_content_digest() -> None:
    x, y = arrays(200)
    data = load_dataset(DataSpec("arrays", arrays=(x, y), validation_split=0.2, test_split=0.1))
    inputs = SweepDatasets.of(data)
    assert inputs.digest(T.DATA_TRAIN) == content_digest((data.x_train, data.y_train))
    assert inputs.digest(T.DATA_VALIDATION) == content_digest((data.x_val, data.y_val))
    assert inputs.digest(T.DATA_TEST) == content_digest((data.x_test, data.y_test))
    assert [i.tags[0].value for i in inputs.sweep_inputs()] == [T.DATA_TRAIN, T.DATA_VALIDATION,
                                                                T.DATA_TEST]
    assert [i.dataset.digest for i in inputs.trial_inputs()] == [
        inputs.digest(T.DATA_TRAIN), inputs.digest(T.DATA_VALIDATION)]
    again = SweepDatasets.of(load_dataset(DataSpec("arrays", arrays=(x.copy(), y.copy()),
                                                   validation_split=0.2, test_split=0.1)))
    assert again.digest(T.DATA_TRAIN) == inputs.digest(T.DATA_TRAIN)
    without_test = SweepDatasets.of(load_dataset(DataSpec("arrays", arrays=(x, y))))
    assert without_test.digest(T.DATA_TEST) is None and without_test.name(T.DATA_TEST) is None


def test_both_digests_give_one_id_for_the_same_arrays() -> None:
    x, y = arrays()
    assert spec_digest((x, y)) == content_digest((x, y))


def test_the_same_text_labels_give_the_same_spec_digest() -> None:
    x = np.arange(12, dtype=np.float32).reshape(6, 2)

    def labels() -> np.ndarray:  # equal strings, new objects each time (as from a file)
        return np.array(["".join(["c", "at"]), "".join(["d", "og"])] * 3, dtype=object)

    assert spec_digest((x, labels())) == spec_digest((x, labels()))
