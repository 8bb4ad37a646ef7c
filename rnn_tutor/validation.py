"""Input validation shared by every public function: one clear error per bad argument.

Every check here raises :class:`ArgumentError` (a ``ValueError``) whose message starts with the
caller's argument name and says what was expected and what was received::

    xs: expected shape (T, N, d) = (*, *, 3), received shape (5, 2, 4). ...

Wrong *kinds* of value (``None`` or a string where an array is expected, complex numbers, a
``float`` where an integer is expected) raise :class:`ArgumentTypeError`, which is both a
``TypeError`` and an :class:`ArgumentError`, so ``except ValueError`` catches every bad argument.
Training loops that meet NaN or ``inf`` raise :class:`NonFiniteError` (a ``FloatingPointError``)
that names the step and the parameter.

Documented limits (a request beyond them is an error, not a long wait or a ``MemoryError``):

* :data:`MAX_SIZE` for any single size (``T, N, d, m, q, V``, a number of samples, ...);
* :data:`MAX_ITERATIONS` for iteration counts (``steps``, ``epochs``, ``max_updates``, ...);
* :data:`MAX_ELEMENTS` for the arrays a function creates from sizes (e.g. ``T · N · d``).

Caches returned by forward functions are :class:`Cache` dicts that remember which function made
them, so a backward function given another function's cache says so.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from typing import Callable, Iterable, Mapping

import numpy as np

__all__ = ["ArgumentError", "ArgumentTypeError", "NonFiniteArgumentError", "NonFiniteError", "Cache", "MAX_SIZE", "MAX_ITERATIONS",
           "MAX_ELEMENTS", "PARAM_NAMES", "describe", "all_finite", "as_float_array", "check_array", "check_shape", "check_finite",
           "check_int", "check_real", "check_probability", "check_probabilities", "check_rng", "check_choice", "check_mapping",
           "check_params", "check_cache", "check_elements", "check_token_ids", "check_callable",
           "check_training_step", "training_advice", "update_overflow", "overflow_is_error"]

PARAM_NAMES = ("w_x", "w_h", "b_h", "w_y", "b_y")

MAX_SIZE = 100_000
"""Largest accepted value of any single size (time steps, batch, features, hidden units, samples)."""

MAX_ITERATIONS = 1_000_000
"""Largest accepted iteration count (training steps, epochs, updates, repeats)."""

MAX_ELEMENTS = 50_000_000
"""Largest array (in elements, 400 MB in float64) that a function will create from requested sizes."""


class ArgumentError(ValueError):
    """A bad argument.  ``argument`` is the caller's argument name; the message names it first."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument of the wrong kind (``None``, complex, a string, a float for an integer, ...)."""


class NonFiniteArgumentError(ArgumentError, FloatingPointError):
    """An argument holding NaN or ``inf`` where the math needs finite numbers (also a ``FloatingPointError``)."""


class NonFiniteError(FloatingPointError):
    """Training met NaN or ``inf``; ``step`` and ``parameter`` say where (either may be None)."""

    def __init__(self, message: str, step=None, parameter: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.parameter = parameter


class Cache(dict):
    """A forward pass's cache: a plain dict that also remembers the function that made it."""

    def __init__(self, producer: str, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.producer = producer

    def __reduce__(self):
        return (Cache, (self.producer, dict(self)))


def _fail(name: str, expected: str, received: str, hint: str = "", kind=ArgumentError):
    extra = f" {hint}" if hint else ""
    raise kind(name, f"{name}: expected {expected}, received {received}.{extra}")


def describe(value) -> str:
    """A short description of a received value for an error message."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (bool, np.bool_)):
        return f"{value!r} (a bool)"
    if isinstance(value, (numbers.Number, str)):
        text = repr(value)
        return (text[:60] + "...") if len(text) > 60 else text + f" ({type(value).__name__})"
    if isinstance(value, np.random.RandomState):
        return "a numpy.random.RandomState (the legacy generator)"
    return f"a {type(value).__name__}"


# ----------------------------------------------------------------------------- arrays

_KIND_NAMES = {"c": "complex numbers", "b": "booleans", "O": "Python objects", "U": "strings", "S": "bytes",
               "M": "dates", "m": "time deltas", "V": "raw records"}


def as_float_array(value, name: str, *, allow_bool: bool = False) -> np.ndarray:
    """``value`` as a float64 array of real numbers (lists and integer arrays are accepted).

    ``None``, strings, complex numbers, objects and (unless ``allow_bool``) booleans raise
    :class:`ArgumentTypeError`; ragged nested lists raise :class:`ArgumentError`.
    """
    if type(value) is np.ndarray:
        arr = value
    elif isinstance(value, np.ndarray):  # a subclass: np.matrix (whose * and ** are matrix products), a masked array
        if isinstance(value, np.ma.MaskedArray):
            if np.ma.getmaskarray(value).any():
                _fail(name, "an array of numbers", f"a masked array with {int(np.ma.getmaskarray(value).sum())} masked "
                      "entries", "Fill them first (x.filled(0.0)); where a function takes lengths or a mask, pass that "
                      "instead.", kind=ArgumentTypeError)
            value = np.ma.getdata(value)
        arr = np.asarray(value)  # a plain ndarray with the same entries
    else:
        if value is None or isinstance(value, (str, bytes, Mapping)):
            _fail(name, "an array of numbers", describe(value), kind=ArgumentTypeError)
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError, OverflowError) as exc:
            _fail(name, "an array of numbers", f"{describe(value)} that NumPy cannot turn into an array ({exc})")
        if isinstance(value, (list, tuple)) and arr.dtype.kind in "iuf" and arr.size and _holds_bool(value):
            _fail(name, "an array of numbers", f"a {type(value).__name__} holding True or False",
                  "Use 0 and 1 (or an array of numbers) if numbers are meant.", kind=ArgumentTypeError)
    kind = arr.dtype.kind
    if kind == "f":
        return arr if arr.dtype == np.float64 else arr.astype(np.float64)
    if kind in "iu" or (kind == "b" and allow_bool):
        return arr.astype(np.float64)
    if kind == "O" and arr.ndim and 0 in arr.shape:
        return arr.astype(np.float64)
    hint = "Take the real part (x.real) only if the imaginary part is meant to be dropped." if kind == "c" else ""
    _fail(name, "an array of numbers (real, float or int)",
          f"{_KIND_NAMES.get(kind, 'dtype ' + str(arr.dtype))} (dtype {arr.dtype})", hint, kind=ArgumentTypeError)


def _holds_bool(value) -> bool:
    """Whether a nested list or tuple holds a ``bool`` (which NumPy would silently turn into 0 or 1)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, (bool, np.bool_)):
            return True
    return False


def _shape_text(expected, names) -> str:
    shown = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
    if names is None:
        return shown
    sym = "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"
    return f"{sym} = {shown}" if sym != shown else shown


def check_shape(arr: np.ndarray, expected: tuple, name: str, hint: str = "", names: tuple | None = None) -> None:
    """Raise :class:`ArgumentError` unless ``arr.shape`` matches ``expected`` (``None`` = any size).

    ``names`` gives the symbols of the axes (``("T", "N", "d")``) for the message.
    """
    shape = np.shape(arr)
    ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
    if not ok:
        axes = f"; the axes are {_shape_text(names, None)}" if names and len(names) == len(expected) else ""
        _fail(name, f"shape {_shape_text(expected, None)}", f"shape {shape}{axes}", hint)


def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry of a numeric array is finite (no NaN or ``inf``)."""
    return bool(np.isfinite(arr).all())


def check_finite(arr: np.ndarray, name: str, hint: str = "") -> np.ndarray:
    """Raise :class:`ArgumentError` naming the first NaN or ``inf`` entry of ``arr``."""
    if arr.size and not all_finite(arr):
        bad = np.argwhere(~np.isfinite(arr))[0]
        idx = tuple(int(i) for i in bad)
        where = f" at index {idx}" if idx else ""
        _fail(name, "finite numbers (no NaN or inf)", f"{arr[idx] if idx else arr[()]}{where}", hint,
              kind=NonFiniteArgumentError)
    return arr


def check_array(value, name: str, *, ndim: int | tuple | None = None, shape: tuple | None = None,
                names: tuple | None = None, finite: bool = True, nonempty: bool = False,
                allow_bool: bool = False, hint: str = "") -> np.ndarray:
    """Convert with :func:`as_float_array`, then check the rank, the shape and finiteness.

    ``shape`` may hold ``None`` for a free axis; ``names`` the symbols of the axes for the message
    (``("T", "N", "d")``); ``nonempty`` requires every axis to have at least one entry.
    """
    arr = as_float_array(value, name, allow_bool=allow_bool)
    if shape is not None:
        check_shape(arr, shape, name, hint, names)
    elif ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            what = " or ".join(f"{k}-D" for k in allowed) if len(allowed) < 5 else f"{allowed[0]}-D or higher"
            sym = f" {_shape_text(names, None)}" if names else ""
            _fail(name, f"a {what} array{sym}", f"shape {arr.shape}", hint)
    if nonempty and arr.size == 0:
        sym = f" ({', '.join(names)} >= 1)" if names else ""
        what = "at least one step and one sequence" if names and names[:2] == ("T", "N") else "at least one entry along every axis"
        _fail(name, f"{what}{sym}", f"shape {arr.shape} (an empty sequence)" if names and names[0] == "T"
              else f"shape {arr.shape} (empty)", hint)
    if finite:
        check_finite(arr, name, hint)
    return arr


def check_elements(shape: Iterable[int], what: str, name: str) -> None:
    """Refuse to create an array of more than :data:`MAX_ELEMENTS` entries (named by ``name``)."""
    total = 1
    for s in shape:
        total *= int(s)
    if total > MAX_ELEMENTS:
        _fail(name, f"sizes whose {what} has at most MAX_ELEMENTS = {MAX_ELEMENTS:,} entries",
              f"sizes that need {total:,} entries")


# ----------------------------------------------------------------------------- scalars

def check_int(value, name: str, low: int | None = 1, high: int | None = MAX_SIZE, what: str = "") -> int:
    """``value`` as an ``int`` in ``low .. high`` (``None``: unbounded); bools and floats are refused.

    ``what`` (e.g. ``"the number of steps"``) is added to the message in brackets.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value[()]
    limit = {MAX_SIZE: " (the limit MAX_SIZE)", MAX_ITERATIONS: " (the limit MAX_ITERATIONS)"}.get(high, "")
    if what:
        if low is not None and high is not None:
            expected = f"{what} in {low}..{high}{limit}"
        elif low is not None:
            expected = f"{what} >= {low}"
        else:
            expected = f"{what} <= {high}{limit}" if high is not None else what
    else:
        expected = {1: "a positive integer", 0: "a non-negative integer"}.get(low, "an integer" if low is None
                                                                            else f"an integer >= {low}")
        if high is not None:
            expected += f" (at most {high}{limit.replace(' (', ', ').rstrip(')')})" if low in (0, 1) else f" <= {high}{limit}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        hint = "Use int(...) if a float holds a whole number." if isinstance(value, (float, np.floating)) else ""
        _fail(name, expected, describe(value), hint, kind=ArgumentTypeError)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        _fail(name, expected, repr(value))
    return value


def check_real(value, name: str, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False, allow_inf: bool = False,
               what: str = "a number") -> float:
    """``value`` as a finite ``float`` (``inf`` only with ``allow_inf``) in the given interval."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        kind = ArgumentTypeError
        _fail(name, f"{what} (a real number)", describe(value), kind=kind)
    try:
        v = float(value)
    except (OverflowError, ValueError):
        text = repr(value)
        _fail(name, f"a finite {what.removeprefix('a ').removeprefix('an ')}", (text[:40] + "...") if len(text) > 40 else text,
              kind=NonFiniteArgumentError)
    interval = ""
    if low is not None or high is not None:
        lo = "(" if low_open or (low is None and not allow_inf) else "["
        hi = ")" if high_open or (high is None and not allow_inf) else "]"
        interval = f" in {lo}{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}{hi}"
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        _fail(name, f"a finite {what.removeprefix('a ').removeprefix('an ')}{interval}", repr(value),
              kind=NonFiniteArgumentError)
    if (low is not None and (v < low or (low_open and v == low))) or (high is not None and (v > high or (high_open and v == high))):
        _fail(name, f"{what}{interval}", repr(value))
    return v


def check_probability(value, name: str, *, open_low: bool = False, open_high: bool = False) -> float:
    """A probability or rate in ``[0, 1]`` (ends excluded as asked)."""
    return check_real(value, name, 0.0, 1.0, low_open=open_low, high_open=open_high, what="a probability")


def check_probabilities(arr: np.ndarray, name: str, what: str) -> np.ndarray:
    """Raise :class:`ArgumentError` naming the first entry of the float array ``arr`` outside ``[0, 1]``.

    ``what`` says what the entries are, e.g. ``"probabilities in [0, 1] (the output of softmax)"``;
    rounding above 1 by up to ``1e-9`` is allowed.
    """
    outside = (arr < 0) | (arr > 1 + 1e-9)
    if outside.any():
        idx = tuple(int(i) for i in np.argwhere(outside)[0])
        _fail(name, what, f"{arr[idx]:.6g} at index {idx}")
    return arr


def check_rng(rng, name: str = "rng", allow_none: bool = False) -> np.random.Generator | None:
    """``rng`` must be a :class:`numpy.random.Generator` (``None`` only with ``allow_none``)."""
    if rng is None and allow_none:
        return None
    if not isinstance(rng, np.random.Generator):
        _fail(name, ("None or " if allow_none else "") + "a numpy.random.Generator (np.random.default_rng(seed))",
              describe(rng), kind=ArgumentTypeError)
    return rng


def check_choice(value, name: str, choices: Iterable, what: str = "one of"):
    # ``what`` (default ``"one of"``) may name the kind of choice, e.g. ``"an optimizer:"``
    """``value`` must be one of ``choices``; the message lists them."""
    choices = tuple(choices)
    try:
        ok = isinstance(value, str) and value in choices or any(value is c for c in choices)
    except TypeError:
        ok = False
    if not ok:
        shown = [repr(c) if isinstance(c, str) else getattr(c, "name", repr(c)) for c in choices]
        valid = f"{shown[0]} or {shown[1]}" if len(shown) == 2 else "one of " + ", ".join(shown)
        what = "" if what == "one of" else what + " "
        kind = ArgumentTypeError if not isinstance(value, str) else ArgumentError
        _fail(name, f"{what}{valid}", describe(value) if not isinstance(value, str) else repr(value), kind=kind)
    return value


def check_callable(fn, name: str):
    """``fn`` must be callable."""
    if not callable(fn):
        _fail(name, "a function", describe(fn), kind=ArgumentTypeError)
    return fn


# ----------------------------------------------------------------------------- dicts and caches

def check_mapping(value, name: str, required: Iterable[str], what: str = "a dict") -> Mapping:
    """``value`` must be a dict holding every key of ``required``; missing keys are named."""
    required = list(required)
    if not isinstance(value, Mapping):
        _fail(name, f"{what} with keys {required}", describe(value), kind=ArgumentTypeError)
    missing = [k for k in required if k not in value]
    if missing:
        raise ArgumentError(name, f"{name}: missing key(s) {missing}; expected {what} with keys {required}, "
                                  f"received keys {sorted(map(str, value))}.")
    return value


def check_params(params: Mapping, names=PARAM_NAMES, name: str = "params", finite: bool = True) -> dict[str, np.ndarray]:
    """Validate an Elman RNN parameter dict and return float64 arrays.

    Expected shapes: ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)``, ``w_y (q, m)``, ``b_y (q,)``
    (``names`` may select a subset that includes ``w_h``).  Missing keys, wrong ranks,
    inconsistent sizes and (with ``finite``) NaN or ``inf`` raise :class:`ArgumentError` naming
    the entry, e.g. ``params['w_x']``.
    """
    check_mapping(params, name, names, "an Elman RNN parameter dict")
    p = {k: as_float_array(params[k], f"{name}['{k}']") for k in names}
    w_h = p["w_h"]
    if w_h.ndim != 2 or w_h.shape[0] != w_h.shape[1]:
        _fail(f"{name}['w_h']", "a square (m, m) matrix", f"shape {w_h.shape}")
    if w_h.shape[0] == 0:
        _fail(f"{name}['w_h']", "at least one hidden unit (m >= 1)", f"shape {w_h.shape}")
    m = w_h.shape[0]
    if "w_x" in p:
        check_shape(p["w_x"], (m, None), f"{name}['w_x']", f"w_x must have m = {m} rows, like w_h.")
    if "b_h" in p:
        check_shape(p["b_h"], (m,), f"{name}['b_h']")
    if "w_y" in p:
        check_shape(p["w_y"], (None, m), f"{name}['w_y']", f"w_y must have m = {m} columns.")
        if p["w_y"].shape[0] == 0:
            _fail(f"{name}['w_y']", "at least one output row (q >= 1)", f"shape {p['w_y'].shape}")
    if "b_y" in p:
        check_shape(p["b_y"], (p["w_y"].shape[0] if "w_y" in p else None,), f"{name}['b_y']")
    if "w_x" in p and p["w_x"].shape[1] == 0:
        _fail(f"{name}['w_x']", "at least one input column (d >= 1)", f"shape {p['w_x'].shape}")
    if finite:
        for k, v in p.items():
            check_finite(v, f"{name}['{k}']")
    return p


def check_cache(cache, producer: str | tuple, keys: Iterable[str] = (), name: str = "cache") -> Mapping:
    """``cache`` must be the cache returned by ``producer`` (a function name, or a tuple of them).

    A :class:`Cache` made by another function is named as such; a plain dict must hold ``keys``.
    """
    producers = (producer,) if isinstance(producer, str) else tuple(producer)
    shown = " or ".join(producers)
    if not isinstance(cache, Mapping):
        _fail(name, f"the cache returned by {shown}", describe(cache), kind=ArgumentTypeError)
    made_by = getattr(cache, "producer", None)
    if made_by is not None and made_by not in producers:
        _fail(name, f"the cache returned by {shown}", f"the cache of {made_by}",
              "Pass the cache from the matching forward function.")
    missing = [k for k in keys if k not in cache]
    if missing:
        _fail(name, f"the cache returned by {shown}", f"a dict missing the key(s) {missing}")
    return cache


def check_token_ids(tokens, name: str, V: int | None, *, ndim: int | tuple | None = None,
                    shape: tuple | None = None, names: tuple | None = None, nonempty: bool = False,
                    what: str = "integer ids") -> np.ndarray:
    """Integer ids in ``0 .. V-1`` as an ``int64`` array (integral floats are accepted, 1.7 is not)."""
    if isinstance(tokens, np.ndarray) and tokens.dtype.kind in "iu":
        if isinstance(tokens, np.ma.MaskedArray):
            as_float_array(tokens, name)  # refuses masked entries
            tokens = np.ma.getdata(tokens)
        arr = np.asarray(tokens)
    else:
        f = as_float_array(tokens, name)
        if f.size and not (np.isfinite(f).all() and (f == np.round(f)).all()):
            bad = f[~(np.isfinite(f) & (f == np.round(f)))][0]
            _fail(name, what, f"non-integer values such as {float(bad)!r} (dtype {np.asarray(tokens).dtype})")
        arr = f
    if shape is not None:
        ndim = len(shape)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            what = " or ".join(f"{k}-D" for k in allowed)
            sym = f" {_shape_text(names, None)}" if names else ""
            _fail(name, f"a {what} array of ids{sym}", f"shape {arr.shape}")
    if shape is not None:
        check_shape(arr, shape, name, "", names)
    if nonempty and arr.size == 0:
        _fail(name, "at least one id", f"shape {arr.shape} (empty)")
    if arr.size:  # the range check comes before the cast to int64, which would wrap 2**63 or 1e300 around
        lo, hi = arr.min(), arr.max()
        low, high = (0, V - 1) if V is not None else (-2**63, 2**63 - 1)
        if lo < low or hi > high:
            bad = lo if lo < low else hi
            idx = tuple(int(i) for i in np.argwhere(arr == bad)[0])
            shown = str(int(bad)) if arr.dtype.kind in "iu" or abs(float(bad)) < 1e15 else f"{float(bad):g}"
            _fail(name, f"token ids in 0..{V - 1} (V = {V})" if V is not None else f"{what} that fit in int64",
                  f"{shown} at index {idx}")
    return arr.astype(np.int64)


# ----------------------------------------------------------------------------- training

def training_advice(lr=None, clip=None) -> str:
    """What to try when training produces NaN or ``inf``."""
    tips = ["gradient clipping (e.g. clip=1.0)" if clip is None else f"a smaller clipping threshold than clip = {clip}"]
    if lr is not None:
        tips.append(f"a smaller learning rate than lr = {lr}")
    return "Try " + " or ".join(tips) + "."


def _first_bad(arrays: Mapping) -> str | None:
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype.kind == "c" or (a.dtype.kind == "f" and not all_finite(a)):
            return k
    return None


def check_training_step(step, *, loss=None, grads: Mapping | None = None, params: Mapping | None = None,
                        lr=None, clip=None, what: str = "step") -> None:
    """Raise :class:`NonFiniteError` if the loss, a gradient or a parameter is NaN or ``inf``.

    The message names the step (``what`` and ``step``), the quantity and the parameter, and
    gives advice (:func:`training_advice`).
    """
    where = f"{what} {step}".strip()
    if loss is not None and not np.isfinite(loss):
        raise NonFiniteError(f"training stopped at {where}: the loss is {loss}. {training_advice(lr, clip)}", step)
    for label, arrays in (("the gradient of", grads), ("the parameter", params)):
        if arrays is None:
            continue
        bad = _first_bad(arrays)
        if bad is not None:
            raise NonFiniteError(f"training stopped at {where}: {label} {bad!r} holds NaN or inf. "
                                 f"{training_advice(lr, clip)}", step, bad)


def update_overflow(step, exc: NonFiniteError, lr=None, clip=None, what: str = "step") -> NonFiniteError:
    """The error a training loop raises when its optimiser step failed with ``exc``: names the step too."""
    where = f"{what} {step}".strip()
    return NonFiniteError(f"training stopped at {where}: the update of {exc.parameter!r} overflowed to NaN or inf. "
                          f"{training_advice(lr, clip)}", step, exc.parameter)


# ----------------------------------------------------------------------------- overflow

def _magnitudes(name: str, value, depth: int = 0):
    """``(label, largest finite |entry|)`` for every array-like inside ``value`` (dicts and tuples are opened)."""
    if depth > 3:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _magnitudes(f"{name}[{k!r}]", v, depth + 1)
    elif isinstance(value, (tuple, list)) and value and not isinstance(value[0], numbers.Number):
        for i, v in enumerate(value):
            yield from _magnitudes(f"{name}[{i}]", v, depth + 1)
    elif isinstance(value, (np.ndarray, list, tuple, numbers.Real)) and not isinstance(value, bool):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return
        finite = np.abs(arr[np.isfinite(arr)])
        if finite.size:
            yield name, float(finite.max())


def _overflow_error(fn: Callable, signature: inspect.Signature, args, kwargs, exc: FloatingPointError) -> NonFiniteArgumentError:
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        bound = {}
    found = [m for arg, value in bound.items() for m in _magnitudes(arg, value)]
    name, largest = max(found, key=lambda m: m[1]) if found else (next(iter(signature.parameters), "arguments"), math.nan)
    argument = name.split("[")[0]
    return NonFiniteArgumentError(argument, f"{name}: expected values small enough for {fn.__name__} to compute in "
                                            f"float64, received entries up to {largest:.3g}, and the computation "
                                            f"produced NaN or inf ({exc}). Rescale the input, or look for the step "
                                            "that made it this large.")


def overflow_is_error(fn: Callable) -> Callable:
    """Decorator: an overflow or an invalid operation (such as ``inf - inf``) inside ``fn`` is an error.

    NumPy's default is a ``RuntimeWarning`` and an ``inf`` or NaN in the result.  Under this
    decorator it is a :class:`NonFiniteArgumentError` that names the input with the largest entries
    (for instance ``params['w_y']``), so finite input never comes back as NaN or ``inf`` without a
    word.  A caller that has chosen its own handling with :func:`numpy.errstate` (a training loop
    that checks every step itself, say) keeps it: the decorator acts only under NumPy's default.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if np.geterr()["over"] != "warn":
            return fn(*args, **kwargs)
        try:
            with np.errstate(over="raise", invalid="raise"):
                return fn(*args, **kwargs)
        except (ArgumentError, NonFiniteError):
            raise
        except FloatingPointError as exc:
            raise _overflow_error(fn, signature, args, kwargs, exc) from None

    return wrapper
