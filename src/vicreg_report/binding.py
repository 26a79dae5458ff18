"""Numbers bound to their source: every value of the context knows its path.

Before a template is filled, every leaf of the context becomes a value that knows
its dotted path (``bind``: ``probes.q1.test_acc``); arithmetic in a template keeps
the paths (``(a - b)``), and every filter records what it wrote and from which path
into a ``NumberRegistry``.  ``render.build_document`` writes that registry as
``numbers.json``; tests/test_binding.py checks that every number in the rendered
HTML and PDF text is one of its entries.
"""

from __future__ import annotations

import functools
import operator
import re
from numbers import Integral, Real
from typing import Callable


def path_of(value) -> str | None:
    """The context path a bound value came from; None for anything else."""
    return getattr(value, "_path", None)


def _operand(value) -> str:
    path = path_of(value)
    return path if path is not None else repr(value)


def _derived(result, path: str):
    if isinstance(result, bool) or not isinstance(result, Real):
        return result
    if isinstance(result, Integral):
        return BoundInt(result, path)
    return BoundFloat(result, path)


def _arithmetic(op: Callable, symbol: str, identity=None):
    """``op`` for a bound number: the result is bound to '(left symbol right)'.
    Adding a plain zero (what Jinja's ``sum`` starts from) keeps the operand's path."""
    def plain(x):
        return x._plain() if path_of(x) is not None else x

    def forward(self, other):
        if isinstance(other, bool) or not isinstance(other, Real):
            return NotImplemented
        if identity is not None and path_of(other) is None and other == identity:
            return self
        return _derived(op(self._plain(), plain(other)),
                        f"({self._path} {symbol} {_operand(other)})")

    def backward(self, other):
        if isinstance(other, bool) or not isinstance(other, Real):
            return NotImplemented
        if identity is not None and path_of(other) is None and other == identity:
            return self
        return _derived(op(plain(other), self._plain()),
                        f"({_operand(other)} {symbol} {self._path})")
    return forward, backward


class _BoundNumber:
    """Arithmetic that keeps the context path (mixed into BoundInt and BoundFloat)."""

    __add__, __radd__ = _arithmetic(operator.add, "+", identity=0)
    __sub__, __rsub__ = _arithmetic(operator.sub, "-")
    __mul__, __rmul__ = _arithmetic(operator.mul, "*")
    __truediv__, __rtruediv__ = _arithmetic(operator.truediv, "/")

    def __neg__(self):
        return _derived(-self._plain(), f"-{self._path}")

    def __abs__(self):
        return _derived(abs(self._plain()), f"abs({self._path})")


class BoundFloat(_BoundNumber, float):
    """A float of the context that knows its path."""

    def __new__(cls, value, path: str):
        obj = super().__new__(cls, value)
        obj._path = path
        return obj

    def _plain(self) -> float:
        return float(self)

    __hash__ = float.__hash__


class BoundInt(_BoundNumber, int):
    """An integer of the context that knows its path."""

    def __new__(cls, value, path: str):
        obj = super().__new__(cls, value)
        obj._path = path
        return obj

    def _plain(self) -> int:
        return int(self)

    __hash__ = int.__hash__


class BoundStr(str):
    """A string of the context that knows its path."""

    def __new__(cls, value, path: str):
        obj = super().__new__(cls, value)
        obj._path = path
        return obj


class BoundList(list):
    """A list of the context (of bound items) that knows its path."""

    def __init__(self, items, path: str):
        super().__init__(items)
        self._path = path


class BoundDict(dict):
    """A dict of the context (of bound values) that knows its path."""

    def __init__(self, items, path: str):
        super().__init__(items)
        self._path = path


def bind(value, path: str = ""):
    """``value`` with every leaf bound to its dotted path ('probes.q1.per_class.3')."""
    join = (lambda key: f"{path}.{key}" if path else str(key))  # noqa: E731
    if isinstance(value, dict):
        return BoundDict({k: bind(v, join(k)) for k, v in value.items()}, path)
    if isinstance(value, (list, tuple)):
        return BoundList([bind(v, join(i)) for i, v in enumerate(value)], path)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):   # numpy
        return bind(value.tolist(), path)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return BoundInt(int(value), path)
    if isinstance(value, Real):
        return BoundFloat(float(value), path)
    if isinstance(value, str):
        return BoundStr(value, path)
    return value


def _plain_value(value):
    """A bound value as plain JSON data."""
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    return str(value)


_DIGIT = re.compile(r"\d")


class NumberRegistry(list):
    """What the filters of one rendering wrote: {text, path, value, lang, filter} each,
    ``text`` as the reader sees it and ``path`` the context path of its source (several
    joined by ', '; None if the value did not come from the context)."""

    def record(self, name: str, shown: str, args: tuple, kwargs: dict, lang: str) -> None:
        if not _DIGIT.search(shown):
            return
        sources = [a for a in (*args, *kwargs.values())
                   if path_of(a) is not None
                   and (not isinstance(a, str) or _DIGIT.search(a))]
        if not sources:    # a literal of the template, or a value computed from one
            path, value = None, _plain_value(args[0]) if args else None
        elif len(sources) == 1:
            path, value = path_of(sources[0]), _plain_value(sources[0])
        else:
            path = ", ".join(path_of(a) for a in sources)
            value = [_plain_value(a) for a in sources]
        self.append({"text": shown, "path": path, "value": value, "lang": lang,
                     "filter": name})


def recording(name: str, func: Callable, registry: NumberRegistry, lang: str,
              text: bool = False) -> Callable:
    """``func`` as a filter that records what it wrote, tagged ``lang`` (a ``text``
    filter: the plain text the reader sees, not the markup around it)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        out = func(*args, **kwargs)
        shown = str(args[0]) if text and args else out
        registry.record(name, shown, args, kwargs, lang)
        return out
    return wrapper


def bound_length(value):
    """Jinja's ``length``, bound to 'len(path)' for a bound list, dict or string."""
    n = len(value)
    path = path_of(value)
    return BoundInt(n, f"len({path})") if path is not None else n
