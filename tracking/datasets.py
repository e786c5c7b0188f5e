"""The sweep's data as MLflow dataset inputs: what fills the UI's Dataset column.

Each split (train, validation, and test when there is one) becomes one MLflow dataset: the
data's name, a digest of every example and label, where it came from (``Dataset.source``),
its shapes, and the ``mlflow.data.context`` it was used in. The digests are computed once per
sweep, here; the sweep run logs every split and each trial run its train and validation
splits, reusing the same entities::

    inputs = SweepDatasets.of(dataset)
    client.log_inputs(sweep_run_id, inputs.sweep_inputs())
    client.log_inputs(trial_run_id, inputs.trial_inputs())

Two sweeps on different data differ in digest even when their names and sizes agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from mlflow.data import from_numpy
from mlflow.data.dataset_source_registry import get_dataset_source_from_json
from mlflow.entities import Dataset as DatasetEntity
from mlflow.entities import DatasetInput, InputTag

from tracking import tags as T

if TYPE_CHECKING:
    from sweeps.data import Dataset

__all__ = ["SweepDatasets"]


@dataclass(frozen=True)
class SweepDatasets:
    """The dataset inputs of one sweep, by context (``train``, ``validation``, ``test``)."""

    by_context: Mapping[str, DatasetInput]

    @classmethod
    def of(cls, data: Dataset) -> SweepDatasets:
        # Where the examples came from, as sweeps describes it (a folder, a file,
        # "sklearn.datasets.load_diabetes"): MLflow's "local" source, which the UI shows.
        source = get_dataset_source_from_json(json.dumps({"uri": data.source}), "local")
        splits = {T.DATA_TRAIN: (data.x_train, data.y_train),
                  T.DATA_VALIDATION: (data.x_val, data.y_val)}
        if data.x_test is not None:
            splits[T.DATA_TEST] = (data.x_test, data.y_test)
        inputs = {}
        for context, (x, y) in splits.items():
            fields = _fields(x, y, source, data.name)
            entity = DatasetEntity(
                name=fields["name"], digest=fields["digest"], source_type=fields["source_type"],
                source=fields["source"], schema=fields.get("schema"),
                profile=fields.get("profile"))
            inputs[context] = DatasetInput(entity, tags=[InputTag(T.DATA_CONTEXT, context)])
        return cls(inputs)

    def sweep_inputs(self) -> list[DatasetInput]:
        return list(self.by_context.values())

    def trial_inputs(self) -> list[DatasetInput]:
        return [self.by_context[c] for c in (T.DATA_TRAIN, T.DATA_VALIDATION)]

    def digest(self, context: str) -> str | None:
        found = self.by_context.get(context)
        return found.dataset.digest if found else None

    def name(self, context: str) -> str | None:
        found = self.by_context.get(context)
        return found.dataset.name if found else None


def _fields(x: Any, y: np.ndarray, source: Any, name: str) -> dict[str, Any]:
    """MLflow's description of one split: its schema and profile (shapes, sizes) included.

    A stream (the user's batched dataset) is described by its first batch's schema and its
    size; its digest is the sweep's own identity of it (form, size, labels in sorted order:
    a pipeline that reshuffles is the same data on every pass), not every example's bytes.
    """
    from sweeps.data import Stream, content_digest

    if not isinstance(x, Stream):
        return from_numpy(x, source=source, targets=y, name=name,
                          digest=content_digest((x, y))).to_dict()
    head = x.head
    fields = from_numpy(head, source=source, targets=y[:len(head)], name=name,
                        digest=content_digest(x)).to_dict()
    fields["profile"] = json.dumps({"kind": x.kind, "batches": x.batches,
                                    "examples": len(x), "features_shape": list(x.shape)})
    return fields
