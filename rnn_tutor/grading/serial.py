"""Safe serialisation between the grader and an untrusted kernel: tagged JSON, never pickle.

The grader sends a check's inputs into the learner's kernel and brings the
learner's results back.  Unpickling data from the kernel would let a submission run
code in the grader, so both directions use JSON with a few tagged objects:

=================  ===========================================================
``{"$t": [...]}``  tuple
``{"$d": [[k, v], ...]}``  dict (any hashable encodable keys, order kept)
``{"$a": [dtype, shape, base64]}``  NumPy array of booleans or numbers (bit-exact)
``{"$s": [dtype, base64]}``  NumPy scalar
``{"$c": [re, im]}``  complex number
``{"$set": [...]}`` / ``{"$fset": [...]}``  set / frozenset
``{"$y": [...]}``  SymPy expression tree (rebuilt from SymPy classes only; no ``eval``)
``{"$o": [type, repr]}``  anything else: decoded as an :class:`Opaque` placeholder
=================  ===========================================================

Lists, strings, numbers (including ``NaN`` and ``inf``), booleans and ``None`` are
plain JSON.  :func:`decode` treats its input as hostile: it bounds the size and the
nesting depth, accepts only numeric dtypes, checks every array's byte count and
never calls a constructor with a string that SymPy would parse.

With a :class:`Schema` (the grader decoding a learner's result), a SymPy expression is
rebuilt only from ``+``, ``*``, ``**``, numbers, the functions the check declares
(``Check.sympy_functions``) and the symbols of its inputs (and ``Check.sympy_symbols``):
anything else (an undefined function ``f(a)`` whose name would be pasted into code by
``lambdify``, ``Range``, ``Integral``, ...) is a :class:`SerialError` that names it, and
the whole value is limited to :data:`MAX_NODES` nodes and strings of :data:`MAX_STRING`
characters.

This module is also imported *inside* the kernel (by :func:`kernel_call`), so it
depends on nothing but the standard library and NumPy (SymPy only when needed).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import sys
from typing import Any, Mapping

import numpy as np

__all__ = ["SerialError", "Opaque", "Schema", "encode", "decode", "dumps", "loads", "pack", "unpack",
           "kernel_call", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "MAX_STRING"]

MAX_BYTES = 64 * 2**20      # largest JSON text accepted in either direction
MAX_DEPTH = 64              # deepest nesting of lists, tuples and dicts
MAX_NODES = 200_000         # values (list items, dict items, SymPy nodes) in one decoded result
MAX_STRING = 10_000         # characters of one string in a decoded result
MAX_DIGITS = 400            # digits of one SymPy integer in a decoded result
# SymPy classes every schema accepts (arithmetic and numeric constants).
SYMPY_ALWAYS = ("Add", "Mul", "Pow", "Pi", "Exp1", "ImaginaryUnit", "Infinity", "NegativeInfinity", "NaN",
                "ComplexInfinity")


class Schema:
    """What a hostile value may contain: SymPy ``functions`` (names of SymPy function classes,
    e.g. ``"tanh"``) and ``symbols`` (names), besides arithmetic, numbers and constants."""

    def __init__(self, functions=(), symbols=()) -> None:
        self.functions = frozenset(functions)
        self.symbols = frozenset(symbols)
        self.nodes = 0

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SerialError(f"the value has more than {MAX_NODES} parts")
_NUMERIC_KINDS = "biufc"
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?(inf|nan)")


class SerialError(ValueError):
    """A value that cannot be encoded, or a text that is not a valid encoding."""


class Opaque:
    """Stands for a kernel object that has no safe encoding (a function, a class, ...).

    It equals nothing, so a comparison with the reference always reports it.
    """

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name, self.text = type_name, text

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self.type_name} object (not serialisable): {self.text}>"


# ----------------------------------------------------------------------------- encoding

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode(value: Any, _depth: int = 0) -> Any:
    """Turn ``value`` into plain JSON data with the tags of the module docstring."""
    if _depth > MAX_DEPTH:
        raise SerialError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, complex):
        return {"$c": [value.real, value.imag]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC_KINDS:
            return _opaque(value)
        if value.nbytes > MAX_BYTES * 3 // 4:      # base64 grows data by 4/3
            raise SerialError(f"an array of {value.nbytes} bytes is larger than the limit {MAX_BYTES}")
        arr = np.ascontiguousarray(value)
        return {"$a": [arr.dtype.str, list(arr.shape), _b64(arr.tobytes())]}
    if isinstance(value, np.generic):
        if value.dtype.kind not in _NUMERIC_KINDS:
            return _opaque(value)
        return {"$s": [value.dtype.str, _b64(np.asarray(value).tobytes())]}
    if isinstance(value, (list, tuple)):
        items = [encode(v, _depth + 1) for v in value]
        return items if isinstance(value, list) else {"$t": items}
    if isinstance(value, Mapping):
        return {"$d": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        tag = "$set" if isinstance(value, set) else "$fset"
        return {tag: [encode(v, _depth + 1) for v in value]}
    if "sympy" in sys.modules and isinstance(value, sys.modules["sympy"].Basic):
        tree = _sympy_tree(value, _depth)
        if tree is not None:
            return {"$y": tree}
    return _opaque(value)


def _opaque(value: Any) -> dict:
    try:
        text = repr(value)[:200]
    except Exception:  # a learner's __repr__ may raise anything
        text = "?"
    return {"$o": [type(value).__name__[:100], text]}


def _sympy_tree(expr: Any, depth: int) -> list | None:
    import sympy as sp
    from sympy.core.function import AppliedUndef

    if depth > 4 * MAX_DEPTH or not isinstance(expr, sp.Basic):
        return None
    if isinstance(expr, sp.Symbol) and type(expr) is sp.Symbol:
        return ["Symbol", expr.name, {k: v for k, v in expr._assumptions_orig.items()
                                      if isinstance(v, bool)}]
    if isinstance(expr, sp.Integer):
        return ["Integer", str(int(expr))]
    if isinstance(expr, sp.Rational):
        return ["Rational", str(expr.p), str(expr.q)]
    if isinstance(expr, sp.Float):
        return ["Float", str(expr), int(expr._prec)]
    args = [_sympy_tree(a, depth + 1) for a in expr.args]
    if any(a is None for a in args):
        return None
    if isinstance(expr, AppliedUndef):
        return ["$fn", expr.func.__name__, args]
    return [type(expr).__name__, args]


def dumps(value: Any) -> str:
    """``json.dumps(encode(value))``; raises :class:`SerialError` above :data:`MAX_BYTES`."""
    text = json.dumps(encode(value), separators=(",", ":"), allow_nan=True)
    if len(text) > MAX_BYTES:
        raise SerialError(f"the encoded value has {len(text)} characters (limit {MAX_BYTES})")
    return text


def pack(value: Any) -> str:
    """:func:`dumps` then base64: an ASCII string that survives any ``repr``."""
    return _b64(dumps(value).encode("utf-8"))


# ----------------------------------------------------------------------------- decoding

def loads(text: str, schema: Schema | None = None) -> Any:
    """Parse a JSON text made by :func:`dumps`, treating it as hostile."""
    if not isinstance(text, str) or len(text) > MAX_BYTES:
        raise SerialError(f"expected a JSON text of at most {MAX_BYTES} characters")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SerialError(f"not valid JSON ({str(exc)[:200]})") from None
    return decode(data, schema=schema)


def unpack(text: str, schema: Schema | None = None) -> Any:
    """Inverse of :func:`pack`."""
    if not isinstance(text, str) or len(text) > 2 * MAX_BYTES:
        raise SerialError("expected a base64 text")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise SerialError(f"not a packed value ({exc})") from None
    return loads(raw, schema)


def _dtype(text: Any) -> np.dtype:
    try:
        dtype = np.dtype(str(text))
    except TypeError:
        raise SerialError(f"unknown dtype {text!r}") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.itemsize > 32:
        raise SerialError(f"dtype {text!r} is not a boolean or numeric dtype")
    return dtype


def _bytes(text: Any) -> bytes:
    if not isinstance(text, str):
        raise SerialError("expected base64 data")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeError):
        raise SerialError("invalid base64 data") from None


def _hashable(key: Any) -> Any:
    try:
        hash(key)
    except TypeError:
        raise SerialError(f"unhashable dict key of type {type(key).__name__}") from None
    return key


def decode(data: Any, _depth: int = 0, schema: Schema | None = None) -> Any:
    """Rebuild a value from :func:`encode`'s output; raise :class:`SerialError` if malformed.

    ``schema`` (for a learner's result) limits SymPy expressions, sizes and strings."""
    if _depth > MAX_DEPTH:
        raise SerialError(f"value nested deeper than {MAX_DEPTH} levels")
    if schema is not None:
        schema.count()
        if isinstance(data, str) and len(data) > MAX_STRING:
            raise SerialError(f"a string of {len(data)} characters (limit {MAX_STRING})")

    def decode(v: Any, depth: int) -> Any:       # the recursion keeps the schema
        return _decode(v, depth, schema)

    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, _depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise SerialError(f"unexpected JSON value of type {type(data).__name__}")
    (tag, body), = data.items()
    if tag == "$t" and isinstance(body, list):
        return tuple(decode(v, _depth + 1) for v in body)
    if tag == "$d" and isinstance(body, list):
        out = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise SerialError("malformed dict item")
            out[_hashable(decode(pair[0], _depth + 1))] = decode(pair[1], _depth + 1)
        return out
    if tag == "$a" and isinstance(body, list) and len(body) == 3:
        dtype, shape, raw = _dtype(body[0]), body[1], _bytes(body[2])
        if not (isinstance(shape, list) and len(shape) <= 32
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
            raise SerialError(f"malformed array shape {shape!r}")
        if math.prod(shape) * dtype.itemsize != len(raw):
            raise SerialError(f"array data has {len(raw)} bytes, shape {shape} needs "
                              f"{math.prod(shape) * dtype.itemsize}")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if tag == "$s" and isinstance(body, list) and len(body) == 2:
        dtype, raw = _dtype(body[0]), _bytes(body[1])
        if len(raw) != dtype.itemsize:
            raise SerialError("malformed NumPy scalar")
        return np.frombuffer(raw, dtype=dtype)[0]
    if tag == "$c" and isinstance(body, list) and len(body) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in body):
        return complex(body[0], body[1])
    if tag in ("$set", "$fset") and isinstance(body, list):
        items = [_hashable(decode(v, _depth + 1)) for v in body]
        return set(items) if tag == "$set" else frozenset(items)
    if tag == "$o" and isinstance(body, list) and len(body) == 2 and all(isinstance(v, str) for v in body):
        return Opaque(body[0][:100], body[1][:200])
    if tag == "$y":
        return _sympy_build(body, 0) if schema is None else _sympy_strict(body, 0, schema)
    raise SerialError(f"unknown tag {tag!r}")


_decode = decode


def _shown(name: Any) -> str:
    """A learner-made name, safe to show in a message (never used to build anything)."""
    text = "".join(c if c.isprintable() and c.isascii() else "?" for c in str(name)[:40])
    return repr(text + ("…" if len(str(name)) > 40 else ""))


def _sympy_strict(node: Any, depth: int, schema: Schema) -> Any:
    """Rebuild a SymPy expression from allowed parts only (see :class:`Schema`)."""
    import sympy as sp

    schema.count()
    if depth > 4 * MAX_DEPTH or not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise SerialError("malformed SymPy expression")
    name = node[0]
    if name == "Symbol":
        if not (len(node) == 3 and isinstance(node[1], str) and isinstance(node[2], dict)):
            raise SerialError("malformed Symbol")
        if node[1] not in schema.symbols:
            raise SerialError(f"the expression uses the symbol {_shown(node[1])}, which is not an argument "
                              f"(expected only {', '.join(sorted(schema.symbols)) or 'numbers'})")
        flags = node[2]
        if len(flags) > 20 or not all(isinstance(k, str) and k.isidentifier() and isinstance(v, bool)
                                      for k, v in flags.items()):
            raise SerialError("malformed Symbol assumptions")
        try:
            return sp.Symbol(node[1], **flags)
        except Exception:  # noqa: BLE001 - contradictory assumptions
            raise SerialError(f"bad assumptions for the symbol {_shown(node[1])}") from None
    if name == "Integer" and len(node) == 2 and isinstance(node[1], str) and re.fullmatch(
            rf"-?\d{{1,{MAX_DIGITS}}}", node[1]):
        return sp.Integer(int(node[1]))
    if name == "Rational" and len(node) == 3 and all(
            isinstance(v, str) and re.fullmatch(rf"-?\d{{1,{MAX_DIGITS}}}", v) for v in node[1:]):
        if int(node[2]) == 0:
            raise SerialError("a Rational with denominator 0")
        return sp.Rational(int(node[1]), int(node[2]))
    if name == "Float" and len(node) == 3 and isinstance(node[1], str) and isinstance(node[2], int):
        if len(node[1]) > 100 or not _FLOAT_TEXT.fullmatch(node[1].strip()) or not 1 <= node[2] <= 256:
            raise SerialError("malformed Float")
        return sp.Float(node[1], precision=node[2])
    if name == "$fn":
        raise SerialError(f"the expression uses an undefined function {_shown(node[1] if len(node) > 1 else '?')}"
                          f"(...); use SymPy's own functions (e.g. sp.tanh), not sp.Function")
    if len(node) != 2 or not isinstance(node[1], list):
        raise SerialError(f"malformed SymPy node {_shown(name)}")
    if name in SYMPY_ALWAYS:
        cls = getattr(sp, name, None) or getattr(sp.S, name, None)
    elif name in schema.functions:
        cls = getattr(sp, name, None)
    else:
        cls = None
    if name in SYMPY_ALWAYS[3:]:
        if node[1]:
            raise SerialError(f"malformed SymPy constant {name}")
        return getattr(sp.S, name)
    if not (isinstance(cls, type) and issubclass(cls, sp.Basic)):
        allowed = sorted(schema.functions)
        raise SerialError(f"the expression uses {_shown(name)}, which this task does not accept (allowed: "
                          f"+, -, *, /, **, numbers{', ' if allowed else ''}{', '.join(allowed)})")
    args = [_sympy_strict(a, depth + 1, schema) for a in node[1]]
    if name not in ("Add", "Mul") and len(args) > (2 if name == "Pow" else 3):
        raise SerialError(f"malformed SymPy node {name}")
    try:
        return cls(*args, evaluate=False)
    except Exception as exc:  # noqa: BLE001
        raise SerialError(f"cannot rebuild SymPy {name} ({str(exc)[:100]})") from None


def _sympy_build(node: Any, depth: int) -> Any:
    import sympy as sp

    if depth > 4 * MAX_DEPTH or not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise SerialError("malformed SymPy expression")
    name = node[0]
    if name == "Symbol" and len(node) == 3 and isinstance(node[1], str) and isinstance(node[2], dict):
        if not all(isinstance(k, str) and isinstance(v, bool) for k, v in node[2].items()):
            raise SerialError("malformed Symbol assumptions")
        try:
            return sp.Symbol(node[1], **node[2])
        except Exception as exc:
            raise SerialError(f"bad Symbol ({exc})") from None
    if name in ("Integer", "Rational") and all(isinstance(v, str) and re.fullmatch(r"-?\d{1,5000}", v)
                                               for v in node[1:]) and len(node) in (2, 3):
        return sp.Integer(int(node[1])) if len(node) == 2 else sp.Rational(int(node[1]), int(node[2]))
    if name == "Float" and len(node) == 3 and isinstance(node[1], str) and isinstance(node[2], int):
        if not _FLOAT_TEXT.fullmatch(node[1].strip()) or not 1 <= node[2] <= 10000:
            raise SerialError("malformed Float")
        return sp.Float(node[1], precision=node[2])
    if name == "$fn" and len(node) == 3 and isinstance(node[1], str) and isinstance(node[2], list):
        return sp.Function(node[1])(*[_sympy_build(a, depth + 1) for a in node[2]])
    cls = getattr(sp, name, None) if name.isidentifier() and not name.startswith("_") else None
    if not (isinstance(cls, type) and issubclass(cls, sp.Basic)):
        singleton = (getattr(sp.S, name, None)
                     if name.isidentifier() and not name.startswith("_") else None)
        if isinstance(singleton, sp.Basic) and len(node) == 2 and node[1] == []:
            return singleton
        raise SerialError(f"{name!r} is not a SymPy class")
    if len(node) != 2 or not isinstance(node[1], list):
        raise SerialError(f"malformed SymPy node {name!r}")
    args = [_sympy_build(a, depth + 1) for a in node[1]]    # always Basic: nothing is parsed
    if not args:
        singleton = getattr(sp.S, name, None)
        if isinstance(singleton, sp.Basic):
            return singleton
    try:
        try:    # evaluate=False: a hostile tree cannot make the grader compute 10**(10**9)
            return cls(*args, evaluate=False)
        except TypeError:
            return cls(*args)
    except Exception as exc:
        raise SerialError(f"cannot rebuild SymPy {name} ({str(exc)[:100]})") from None


# ----------------------------------------------------------------------------- kernel side

def kernel_call(target: str, payload: str, nonce: str, namespace: Mapping | None = None,
                forbidden: tuple = ()) -> str:
    """Run in the learner's kernel: call ``namespace[target](**inputs)``; return a packed reply.

    ``namespace`` defaults to the caller's globals (the notebook's namespace), found
    through the frame, so a learner who shadows ``globals`` or ``print`` changes nothing.

    The reply is a packed dict with ``nonce``, ``status`` (``ok``, ``missing``,
    ``not-callable``, ``not-implemented``, ``raised``, ``unserialisable``, ``shortcut``) and,
    for ``ok``, the ``result`` and the inputs ``after`` the call (to detect in-place
    changes).  It never raises: anything unexpected becomes a ``raised`` reply.

    The call runs under :class:`rnn_tutor.checks.guard.Guard` with the check's ``forbidden``
    library functions: a call of one of them (or of any check), or a file of ``solutions/``
    read by the notebook, gives a ``shortcut`` reply naming it, whatever the result.
    """
    def reply(**content: Any) -> str:
        return pack({"nonce": nonce, **content})

    def describe(exc: BaseException) -> str:
        try:
            text = str(exc)
        except Exception:  # a learner's exception whose __str__ fails
            text = ""
        return f"{type(exc).__name__}: {text}"[:1000] if text else type(exc).__name__

    try:
        if namespace is None:
            namespace = sys._getframe(1).f_globals
        if target not in namespace:
            return reply(status="missing")
        fn = namespace[target]
        if not callable(fn):
            return reply(status="not-callable", type=type(fn).__name__[:100])
        inputs = unpack(payload)
        from rnn_tutor.checks.guard import Guard, solution_reads
        guard = Guard(forbidden)
        try:
            with guard:
                result = fn(**inputs)
        except NotImplementedError:
            return reply(status="not-implemented")
        except BaseException as exc:  # noqa: BLE001 - the learner's code may raise anything
            if guard.caught:
                return reply(status="shortcut", function=guard.caught)
            return reply(status="raised", error=describe(exc))
        reads = solution_reads()
        if guard.caught or reads:
            return reply(status="shortcut", function=guard.caught or f"reading {reads[0]}")
        try:
            return reply(status="ok", result=result, after=inputs)
        except (SerialError, RecursionError, MemoryError) as exc:
            return reply(status="unserialisable", error=describe(exc))
    except BaseException as exc:  # noqa: BLE001
        return reply(status="raised", error=describe(exc))
