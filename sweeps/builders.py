"""Every kind of model builder a spec can name, behind one interface.

A spec's ``hypermodel.name`` is a bundled hypermodel (``mlp``), an import path
(``my_models:build_model``) or a ``sweeps.hypermodels`` entry point; :func:`sweeps.tune` hands
the object itself. Accepted builders, as keras-tuner accepts them:

1. a function ``build_model(hp) -> keras.Model``;
2. a ``keras_tuner.HyperModel`` (class or instance): its ``build(hp)``, and its
   ``fit(hp, model, *args, **kwargs)``;
3. a sweeps :class:`~hypermodels.Hypermodel` subclass, written against the Space protocol.

``hp`` is keras-tuner's ``HyperParameters`` under keras-tuner's engines and an object with
the same API under Optuna. A model that comes back uncompiled is compiled here as the spec
says (:func:`hypermodels.compile_model`); a compiled one is kept as its builder made it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hypermodels import HYPERMODELS, BuildContext, HpSpace, Hypermodel, compile_model
from hypermodels.space import FloatParam, Param
from sweeps.errors import SpecError
from sweeps.spec import ENTRY_POINT_GROUP, ParamOverride, SweepSpec, parse_param

__all__ = ["Builder", "make_builder", "resolve_object", "DEFAULT_LEARNING_RATE"]

#: The learning-rate distribution of a user's uncompiled model that declares none.
DEFAULT_LEARNING_RATE = FloatParam(1e-4, 1e-2, log=True)
#: Who compiled a trial's model: recorded on its runs.
COMPILED_BY_SWEEPS = "sweeps"
COMPILED_BY_BUILDER = "builder"


class Builder:
    """Builds (and compiles, if its builder did not) and fits one trial's model."""

    def __init__(self, name: str, build: Callable[[Any], Any], context: BuildContext, *,
                 fit: Callable[..., Any] | None = None,
                 learning_rate: Callable[[Any], float] | None = None) -> None:
        self.name = name
        self.context = context
        self._build = build
        self._fit = fit
        self._learning_rate = learning_rate or (
            lambda hp: HpSpace(hp, {"learning_rate": DEFAULT_LEARNING_RATE}).value("learning_rate"))
        #: Who compiled the last model built: ``sweeps`` or ``builder``.
        self.compiled_by = COMPILED_BY_SWEEPS

    @property
    def custom_fit(self) -> bool:
        """Whether training goes through the builder's own ``fit``."""
        return self._fit is not None

    def build(self, hp: Any) -> Any:
        import keras

        model = self._build(hp)
        if not isinstance(model, keras.Model):
            raise SpecError(self.name, "hypermodel", "expected the builder to return a "
                            f"keras.Model, got {type(model).__name__}")
        if getattr(model, "compiled", False):
            self.compiled_by = COMPILED_BY_BUILDER
        else:
            self.compiled_by = COMPILED_BY_SWEEPS
            compile_model(model, self._learning_rate(hp), self.context)
        return model

    def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
        """keras-tuner's contract: the builder's ``fit`` if it has one, else ``model.fit``.

        The builder's own ``fit`` is not handed ``batch_size``: KerasTuner's guides tune it
        there (``model.fit(*args, batch_size=hp.Choice(...), **kwargs)``), which a second
        ``batch_size`` in ``kwargs`` would break. The spec's batch size still applies when
        that ``fit`` gives none (see :func:`_default_batch_size`).
        """
        if self._fit is None:
            return model.fit(*args, **kwargs)
        batch_size = kwargs.pop("batch_size", None)
        with _default_batch_size(model, batch_size):
            return self._fit(hp, model, *args, **kwargs)


@contextlib.contextmanager
def _default_batch_size(model: Any, batch_size: int | None) -> Iterator[None]:
    """While a builder's own ``fit`` runs, ``model.fit`` on arrays uses ``batch_size`` unless
    the call gives one (never for a ``tf.data.Dataset`` or generator, which batch
    themselves). An attribute of this one model instance, set and removed here, past
    Keras's attribute tracking."""
    if batch_size is None:
        yield
        return
    fit = model.fit

    def fit_with_default(*args: Any, **kwargs: Any) -> Any:
        x = args[0] if args else kwargs.get("x")
        if hasattr(x, "shape") or isinstance(x, (list, dict)):
            kwargs.setdefault("batch_size", batch_size)
        return fit(*args, **kwargs)

    object.__setattr__(model, "fit", fit_with_default)
    try:
        yield
    finally:
        object.__delattr__(model, "fit")


@contextlib.contextmanager
def _cwd_importable() -> Iterator[None]:
    """Modules in the working directory import as they would from ``python -m``."""
    added = os.getcwd() not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        yield
    finally:
        if added:
            sys.path.remove(os.getcwd())


def resolve_object(name: str, source: str, key_path: str = "hypermodel.name") -> Any:
    """The object an import path (``pkg.module:attr``) or entry point names."""
    if ":" not in name:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise SpecError(source, key_path, f"no {ENTRY_POINT_GROUP} entry point named {name!r}")
        try:
            return found[0].load()
        except Exception as exc:  # noqa: BLE001 - the plug-in's own import failed
            raise SpecError(source, key_path, f"entry point {name!r} failed to load: "
                            f"{type(exc).__name__}: {exc}") from None
    module_name, _, attr_path = name.partition(":")
    with _cwd_importable():
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError as exc:
            raise SpecError(source, key_path, f"cannot import module {module_name!r} (from "
                            f"{name!r}): {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
            raise SpecError(source, key_path, f"importing {module_name!r} raised "
                            f"{type(exc).__name__}: {exc}") from None
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise SpecError(source, key_path, f"module {module_name!r} has no attribute "
                            f"{attr_path!r}")
        obj = getattr(obj, part)
    return obj


def make_builder(spec: SweepSpec,
                 context: BuildContext) -> tuple[Builder, Mapping[str, Param] | None]:
    """The spec's builder, and the search space of a sweeps Hypermodel (None for builders
    that declare their space through ``hp`` alone)."""
    hm = spec.hypermodel
    options = dict(hm.options)
    if hm.bundled:
        return _from_hypermodel(HYPERMODELS[hm.name](**options), spec.search_space, context), \
            spec.search_space  # type: ignore[return-value]
    obj = hm.obj if hm.obj is not None else resolve_object(hm.name, spec.source)
    import keras_tuner as kt

    if isinstance(obj, type) and issubclass(obj, (Hypermodel, kt.HyperModel)):
        try:
            obj = obj(**options)
        except TypeError as exc:
            raise SpecError(spec.source, "hypermodel.options", f"{hm.name} does not take these "
                            f"options: {exc}") from None
    elif options:
        raise SpecError(spec.source, "hypermodel.options", f"expected no options for "
                        f"{hm.name} (a {type(obj).__name__}, not a class), got "
                        f"{', '.join(options)}")
    if isinstance(obj, Hypermodel):
        space = _hypermodel_space(obj, spec)
        return _from_hypermodel(obj, space, context), space
    if isinstance(obj, kt.HyperModel):
        # keras-tuner calls fit() whether or not it is overridden; its default is model.fit.
        overridden = type(obj).fit is not kt.HyperModel.fit
        return Builder(hm.name, obj.build, context, fit=obj.fit if overridden else None), None
    if callable(obj):
        return Builder(hm.name, obj, context), None
    raise SpecError(spec.source, "hypermodel.name", "expected a build_model(hp) function, a "
                    "keras_tuner.HyperModel or a sweeps Hypermodel, got "
                    f"{type(obj).__name__} from {hm.name!r}")


def _from_hypermodel(hypermodel: Hypermodel, space: Mapping[str, Param],
                     context: BuildContext) -> Builder:
    return Builder(
        hypermodel.name, lambda hp: hypermodel.build(HpSpace(hp, space), context), context,
        learning_rate=lambda hp: HpSpace(
            hp, {"learning_rate": space.get("learning_rate", DEFAULT_LEARNING_RATE)},
        ).value("learning_rate"))


def _hypermodel_space(hypermodel: Hypermodel, spec: SweepSpec) -> dict[str, Param]:
    """A sweeps Hypermodel named by import path: its defaults with the spec's entries."""
    from hypermodels.space import param_to_dict

    space = dict(hypermodel.default_space)
    for key, entry in spec.search_space.items():
        if key not in space:
            raise SpecError(spec.source, f"search_space.{key}", "not a hyperparameter of this "
                            f"hypermodel; it has: {', '.join(space)}")
        if isinstance(entry, ParamOverride):
            entry = parse_param({**param_to_dict(space[key]), **entry.fields},
                                f"search_space.{key}", spec.source)
        space[key] = entry
    return space
