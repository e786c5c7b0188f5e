"""The one private TensorFlow API sweeps uses, in one place: releasing a fit's custom gradients.

In a traced function, ``tf.custom_gradient`` registers the gradient function it makes in
TensorFlow's global gradient registry (``ops._gradient_registry``) under a fresh name,
``CustomGradient-<n>``, and nothing ever removes it. Every traced Keras train and test step
makes some (``tf.distribute``'s default all-reduce of the metrics is one), and each one's
closure holds the traced graph, which holds the model's operations: after ``clear_session``
and a full garbage collection the model's graphs are still alive. Measured with
``scripts/bench_memory.py`` (1-epoch trials on 3,000 MNIST digits), a sweep grew by about
20 MB per trial under keras-tuner and 17 MB under Optuna; a plain Keras loop that builds and
fits a model repeatedly grows the same way (TensorFlow issue #61791, tf-keras #286).

A registered gradient is read only while its function is traced (``tape.gradient`` inside
the step being traced); once ``fit`` returns, the graph already holds it. So the names a fit
added are removed when it ends, and its graphs go with the model. No public API unregisters
a gradient; ``tests/unit/test_compat.py`` fails by name if TensorFlow moves this one.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["PRIVATE_NAMES", "custom_gradients_released", "custom_gradient_names"]

#: (module, attribute path) of the private API used here; the contract test checks them.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("tensorflow.python.framework.ops", "_gradient_registry._registry"),)

_PREFIX = "CustomGradient-"


def _registry() -> dict[str, Any] | None:
    """TensorFlow's gradient registry, if TensorFlow is the loaded backend (else ``None``)."""
    ops = sys.modules.get("tensorflow.python.framework.ops")
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def custom_gradient_names() -> set[str]:
    """The custom gradients registered now (none before TensorFlow is loaded)."""
    registry = _registry()
    return {name for name in registry or () if name.startswith(_PREFIX)}


@contextlib.contextmanager
def custom_gradients_released() -> Iterator[None]:
    """Within: a fit. After it, the custom gradients registered meanwhile are removed."""
    before = custom_gradient_names()
    try:
        yield
    finally:
        added = custom_gradient_names() - before  # TensorFlow may have loaded meanwhile
        registry = _registry()
        for name in added:
            registry.pop(name, None)  # type: ignore[union-attr]  # added is empty without it
