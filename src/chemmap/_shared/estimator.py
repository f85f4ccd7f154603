"""scikit-learn's estimator interface without importing scikit-learn.

Every learned step of chemmap is a scikit-learn estimator by scikit-learn's contract:
parameters declared in ``__init__`` and read back by ``get_params``, ``set_params`` (nested
``step__param`` too), ``fit`` returning ``self``, learned attributes ending in ``_``, and
``__sklearn_tags__``; so ``clone``, ``Pipeline`` and ``GridSearchCV`` take them and they pass
``check_estimator``. The bases here give that interface without importing scikit-learn,
which takes 0.5-1 s (it imports SciPy's statistics), more than the whole analysis of a
small run: scikit-learn is imported only when one of its own functions is called
(``__sklearn_tags__``, ``score``), which happens where scikit-learn is already in use.
"""

from __future__ import annotations

import inspect

__all__ = ["ClusterMixin", "Estimator", "RegressorMixin", "TransformerMixin"]


class Estimator:
    """Base of chemmap's estimators: ``get_params``, ``set_params``, a ``repr`` of the
    parameters that differ from their defaults, and scikit-learn's default tags."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The parameters of ``__init__``, sorted (what scikit-learn's ``clone`` copies)."""
        if cls.__init__ is object.__init__:
            return []
        params = inspect.signature(cls.__init__).parameters.values()
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            raise RuntimeError(f"{cls.__name__} declares *args in __init__; estimators take named parameters only.")
        return sorted(p.name for p in params if p.name != "self" and p.kind is not p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict:
        """The parameters, and with ``deep`` those of parameters that are estimators
        (as ``name__param``)."""
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{key}", v) for key, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params) -> Estimator:
        """Set parameters (``name__param`` sets a parameter of an estimator parameter);
        returns ``self``."""
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: dict[str, dict] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {self!r}. "
                    f"Valid parameters are: {sorted(self._get_param_names())!r}."
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.default is not p.empty
        }
        shown = []
        for name in self._get_param_names():
            value = getattr(self, name, None)
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = value is default or (type(value) is type(default) and bool(value == default))
            except (TypeError, ValueError):  # arrays compare element-wise
                same = False
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False))


class ClusterMixin:
    """Tags a clusterer."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "clusterer"
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        return tags


class TransformerMixin:
    """Tags a transformer and gives ``fit_transform``."""

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        return tags

    def fit_transform(self, X, y=None, **fit_params):
        """``fit`` then ``transform`` on ``X``."""
        fitted = self.fit(X, **fit_params) if y is None else self.fit(X, y, **fit_params)
        return fitted.transform(X)


class RegressorMixin:
    """Tags a regressor and gives ``score`` (the coefficient of determination R²)."""

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        return tags

    def score(self, X, y, sample_weight=None) -> float:
        """R² of ``predict(X)`` against ``y`` (scikit-learn's ``r2_score``)."""
        from sklearn.metrics import r2_score

        return float(r2_score(y, self.predict(X), sample_weight=sample_weight))
