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

from collections.abc import Callable, Mapping
from typing import Any

from hypermodels import HYPERMODELS, BuildContext, HpSpace, Hypermodel, compile_model
from hypermodels.space import FloatParam, Param
from sweeps.errors import SpecError
from sweeps.importer import ImportFailure, import_object
from sweeps.spec import ENTRY_POINT_GROUP, ParamOverride, SweepSpec, parse_param

__all__ = ["Builder", "make_builder", "resolve_object", "DEFAULT_LEARNING_RATE"]

#: The learning-rate distribution of a user's uncompiled model that declares none.
DEFAULT_LEARNING_RATE = FloatParam(1e-4, 1e-2, log=True)
#: Who compiled a trial's model: recorded on its runs.
COMPILED_BY_SWEEPS = "sweeps"
COMPILED_BY_BUILDER = "builder"


class Builder:
    """Builds (and compiles, if its builder did not) one trial's model; the trainer fits it."""

    def __init__(self, name: str, build: Callable[[Any], Any], context: BuildContext, *,
                 fit: Callable[..., Any] | None = None,
                 learning_rate: Callable[[Any], float] | None = None) -> None:
        self.name = name
        self.context = context
        self._build = build
        #: The builder's own ``fit(hp, model, *args, **kwargs)`` (a keras-tuner HyperModel's),
        #: which :class:`~sweeps.training.Trainer` calls instead of ``model.fit``.
        self.own_fit = fit
        self._learning_rate = learning_rate or (
            lambda hp: HpSpace(hp, {"learning_rate": DEFAULT_LEARNING_RATE}).value("learning_rate"))
        #: Who compiled the last model built: ``sweeps`` or ``builder``.
        self.compiled_by = COMPILED_BY_SWEEPS

    @property
    def custom_fit(self) -> bool:
        """Whether training goes through the builder's own ``fit``."""
        return self.own_fit is not None

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
    try:
        return import_object(name, "module:builder")
    except ImportFailure as exc:
        raise SpecError(source, key_path, str(exc)) from None


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
    known = hypermodel.known_space()
    for key, entry in spec.search_space.items():
        if key not in known:
            raise SpecError(spec.source, f"search_space.{key}", "not a hyperparameter of this "
                            f"hypermodel; it has: {hypermodel.space_names()}")
        if isinstance(entry, ParamOverride):
            entry = parse_param({**param_to_dict(known[key]), **entry.fields},
                                f"search_space.{key}", spec.source)
        space[key] = entry
    return space
