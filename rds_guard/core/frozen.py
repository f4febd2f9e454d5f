"""`frozen`: ``dataclass(frozen=True)`` at a quarter of the cost of defining the class.

Every value rds_guard passes around is a frozen dataclass, and ``import rds_guard`` defines
about forty of them. ``dataclasses`` writes each method it generates as source and compiles it
with ``exec``: six methods for a frozen class, about 0.4 ms per class on CPython 3.11, which
made the dataclasses most of what ``import rds_guard`` costs. `frozen` collects the fields
itself (`_own_fields`, as ``dataclasses`` does for such a class), compiles ``__init__`` alone
(it must be compiled to keep its signature and its speed), once for all the classes whose
fields are laid out alike (their names are put into the compiled code; the layouts of
rds_guard's own classes come compiled in `frozen_inits`'s bytecode file), and gives
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` as closures over
the fields' names, which need no compiling.

The class is a frozen dataclass as ``dataclasses`` makes it: the same ``__init__`` (signature,
annotations, defaults, default factories, ``__post_init__``), the same text, the same equality
and hash, `FrozenInstanceError` on assignment, ``__dataclass_params__.frozen`` set, and a
method the class defines itself is kept. Equality compares the tuples of the fields, as
``dataclasses`` does up to Python 3.12 (3.13 compares field by field, which differs only for
a value not equal to itself, such as NaN, held by both); tests/test_frozen.py holds the two
to each other on the Python it runs on. Its ``__init__`` stores the fields in the instance's
``__dict__`` (what ``object.__setattr__``, which ``dataclasses`` calls once per field, does
for a plain attribute), which makes an instance twice as fast to build: the per-call values
are frozen too (a subclass may not put a descriptor over a field: ``__init__`` would not call
it). A class with slots, a pseudo-field (``InitVar``, ``ClassVar``, ``KW_ONLY``, also under
another name), a keyword-only field, a field that is a descriptor (its own, its default's or
a base's), a dataclass base, abstract methods, or its own ``__init__`` or ``__setattr__`` is
left to ``dataclasses`` whole.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import types
from collections.abc import Callable
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, ClassVar, TypeVar, dataclass_transform

from . import frozen_inits

_Class = TypeVar("_Class", bound=type)
_MISSING = object()


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def frozen(cls: _Class) -> _Class:
    """Make ``cls`` a frozen dataclass, as ``@dataclasses.dataclass(frozen=True)`` does."""
    own = dict(cls.__dict__)
    if not _plain(cls, own):
        dataclasses.dataclass(frozen=True)(cls)
        return cls
    made: Any = cls
    every = _own_fields(made, own)
    if every is None:
        dataclasses.dataclass(init=False, repr=False, eq=False)(made)
        every = dataclasses.fields(made)
    if "__init__" not in own:
        made.__init__ = _init(made, every)
    names = tuple(field.name for field in every)
    made.__setattr__ = _setattr(made, names)
    made.__delattr__ = _delattr(made, names)
    if "__repr__" not in own:
        made.__repr__ = _repr(tuple(field.name for field in every if field.repr))
    if "__eq__" not in own:
        made.__eq__ = _eq(_key(tuple(field.name for field in every if field.compare)))
    # As dataclasses decides: a __hash__ of None is Python's doing when the class defines
    # __eq__, not the class's own.
    own_hash = own.get("__hash__", _MISSING)
    if own_hash is _MISSING or (own_hash is None and "__eq__" in own):
        hashed = (f.name for f in every if (f.hash is None and f.compare) or f.hash)
        made.__hash__ = _hash(_key(tuple(hashed)))
    made.__dataclass_params__ = _frozen_params(getattr(made, "__dataclass_params__", None))
    if not own.get("__doc__"):
        made.__doc__ = cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
    return cls  # the same class: dataclasses changes it in place (no slots)


def _plain(cls: type, own: dict[str, Any]) -> bool:
    """Whether ``cls`` has only plain fields, its own, and no frozen method of its own: the
    classes `frozen` makes itself. The others are left to ``dataclasses`` whole."""
    if "__setattr__" in own or "__delattr__" in own or "__init__" in own:
        return False  # dataclasses refuses the first two, and still checks the fields' order
    if getattr(cls, "__abstractmethods__", None):
        return False  # dataclasses recomputes them once its methods are in
    bases = cls.__mro__[1:]
    for base in bases:
        if hasattr(base, "__dataclass_fields__"):
            return False
    annotations = own.get("__annotations__", {})
    if "self" in annotations:
        return False  # dataclasses renames __init__'s own first parameter for it
    namespace = vars(sys.modules[cls.__module__]) if cls.__module__ in sys.modules else {}
    inherited = [vars(base) for base in bases]
    # Plain loops, no generators: every class of the package passes here at import. The
    # descriptors first, then the pseudo-fields, in the order of the checks they replace.
    for name in annotations:
        # A descriptor (a slot is one) is set by object.__setattr__, not in __dict__.
        if _sets(own.get(name)):
            return False
        for attributes in inherited:
            if _sets(attributes.get(name)):
                return False
    for annotation in annotations.values():
        if _pseudo(annotation, namespace):
            return False
    for value in own.values():
        if isinstance(value, dataclasses.Field) and value.kw_only is True:
            return False
    return True


_FIELD = getattr(dataclasses, "_FIELD", None)
_OWN_FIELDS = _FIELD is not None and sys.version_info < (3, 13)
"""Whether `_own_fields` collects the fields: on the Pythons whose ``dataclasses`` does for a
plain class what it does (3.13 adds ``__replace__``), where tests/test_frozen.py holds the
two to each other; elsewhere ``dataclass(init=False, repr=False, eq=False)`` collects them."""


def _own_fields(cls: Any, own: dict[str, Any]) -> tuple[dataclasses.Field[Any], ...] | None:
    """The fields of ``cls``, a class `_plain` passed, collected and set on the class as
    ``dataclass(init=False, repr=False, eq=False)`` does (its field records, defaults left as
    class attributes, ``__match_args__``), for a fraction of its cost: it asks of every
    annotation whether it names a pseudo-field, which `_plain` has answered. None, the class
    untouched, where ``dataclasses`` has more to do or an error to raise (a mutable default,
    a field without an annotation)."""
    if not _OWN_FIELDS:
        return None
    annotations = own.get("__annotations__", {})
    if any(isinstance(v, dataclasses.Field) and k not in annotations for k, v in own.items()):
        return None
    every: list[dataclasses.Field[Any]] = []
    for name in annotations:
        default = getattr(cls, name, _NONE)
        field = (
            default
            if isinstance(default, dataclasses.Field)
            else dataclasses.field(default=default)
        )
        if type(field.default).__hash__ is None:
            return None
        every.append(field)
    for field, name, annotation in zip(every, annotations, annotations.values(), strict=True):
        field.name, field.type = name, annotation
        field._field_type = _FIELD  # type: ignore[attr-defined]
        if field.kw_only is _NONE:
            field.kw_only = False
        if isinstance(getattr(cls, name, None), dataclasses.Field):
            if field.default is _NONE:
                delattr(cls, name)
            else:
                setattr(cls, name, field.default)
    fields = tuple(every)
    cls.__dataclass_fields__ = {field.name: field for field in fields}
    if "__match_args__" not in own:
        matched = tuple(field.name for field in fields if field.init)
        cls.__match_args__ = matched  # type: ignore[misc]
    return fields


def _sets(value: object) -> bool:
    """Whether ``value``, or the default a `dataclasses.field` gives, is a data descriptor."""
    if isinstance(value, dataclasses.Field):
        value = value.default
    return hasattr(type(value), "__set__")


def _pseudo(annotation: object, namespace: dict[str, Any]) -> bool:
    """Whether ``annotation`` makes a pseudo-field (``InitVar``, ``ClassVar``, ``KW_ONLY``),
    also under another name in the class's module, as ``dataclasses`` finds it in a string."""
    text = str(annotation)
    if "InitVar" in text or "ClassVar" in text or "KW_ONLY" in text:
        return True
    if not isinstance(annotation, str):
        return False
    found = namespace.get(text.split("[", 1)[0].strip(), _MISSING)
    return found is dataclasses.InitVar or found is dataclasses.KW_ONLY or found is ClassVar


def _init(cls: type, every: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    """``__init__`` as ``dataclasses`` writes it for a frozen class: the compiled code of the
    class's layout (`_layout`) with the fields' names put in (`_named`)."""
    template = _template(_layout(cls, every))
    named = [field for field in every if field.init or field.default_factory is not _NONE]
    code = _named(template, [field.name for field in named])
    bound = {"__FACTORY": _FACTORY} | {
        f"__factory_{index}": field.default_factory
        for index, field in enumerate(named)
        if field.default_factory is not _NONE
    }
    defaults = tuple(
        _FACTORY if field.default_factory is not _NONE else field.default
        for field in named
        if field.init and (field.default is not _NONE or field.default_factory is not _NONE)
    )
    module = sys.modules.get(cls.__module__)
    init: Callable[..., None] = types.FunctionType(
        code,
        vars(module) if module else {},
        "__init__",
        defaults or None,
        tuple(types.CellType(bound[name]) for name in code.co_freevars),
    )
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {field.name: field.type for field in every if field.init} | {
        "return": None
    }
    return init


_NONE: Any = dataclasses.MISSING
_TEMPLATES: dict[str, types.CodeType] = {}
"""The compiled ``__init__`` of each layout: most classes share theirs with another."""


def _layout(cls: type, every: tuple[dataclasses.Field[Any], ...]) -> str:
    """What the code of ``cls``'s ``__init__`` depends on, a letter per field (``p`` a
    parameter, with or without a default, ``F`` one whose default is a factory's, ``f`` a
    field only a factory sets, none for a field left to its class attribute), then ``P`` when
    it calls ``__post_init__``. A parameter without a default after one with a default is the
    `TypeError` ``dataclasses`` raises."""
    letters: list[str] = []
    defaulted: str | None = None  # the last parameter with a default
    for field in every:
        if field.default_factory is not _NONE:
            letters.append("F" if field.init else "f")
            defaulted = field.name if field.init else defaulted
        elif field.init:
            letters.append("p")
            if field.default is not _NONE:
                defaulted = field.name
            elif defaulted is not None:
                # worded as this Python's dataclasses words it (3.13 names the default)
                named = f" {defaulted!r}" if sys.version_info >= (3, 13) else ""
                raise TypeError(
                    f"non-default argument {field.name!r} follows default argument{named}"
                )
    return "".join(letters) + ("P" if hasattr(cls, "__post_init__") else "")


def _template(layout: str) -> types.CodeType:
    """The code of ``__init__`` for ``layout`` (`_compile`), from `frozen_inits` where that
    module has it (compiled into its bytecode file, loaded with it), else compiled now."""
    template = _TEMPLATES.get(layout)
    if template is None:
        made = getattr(frozen_inits, f"make_{layout}", None)
        template = _inner(made.__code__) if made is not None else _compile(layout)
        _TEMPLATES[layout] = template
    return template


def _compile(layout: str) -> types.CodeType:
    """The code of ``__init__`` for ``layout``, with the names ``_0``, ``_1``... for the
    fields (`_named` puts in theirs); a factory is the closure's ``__factory_<n>``."""
    made: dict[str, Any] = {}
    exec(source_of(layout), {}, made)
    return _inner(made["__make__"].__code__)


def source_of(layout: str, name: str = "__make__") -> str:
    """The source `_compile` compiles for ``layout``: a function ``name`` of the closure's
    names that defines ``__init__`` and returns it (`frozen_inits` holds it for the layouts
    of rds_guard's own classes)."""
    fields = layout.removesuffix("P")
    factories = [f"__factory_{index}" for index, kind in enumerate(fields) if kind in "Ff"]
    params = ["self"] + [f"_{index}" for index, kind in enumerate(fields) if kind != "f"]
    body = ["__fields = self.__dict__"]
    for index, kind in enumerate(fields):
        value = f"_{index}"
        if kind == "F":
            value = f"__factory_{index}() if _{index} is __FACTORY else _{index}"
        elif kind == "f":
            value = f"__factory_{index}()"
        body.append(f'__fields["_{index}"] = {value}')
    if layout.endswith("P"):
        body.append("self.__post_init__()")
    return (
        f"def {name}({', '.join(['__FACTORY', *factories])}):\n"
        f"    def __init__({', '.join(params)}):\n"
        + "".join(f"        {line}\n" for line in body)
        + "\n    return __init__\n"
    )


def _inner(make: types.CodeType) -> types.CodeType:
    """The code of the ``__init__`` a layout's maker (`source_of`) defines."""
    (code,) = (c for c in make.co_consts if isinstance(c, types.CodeType))
    return code


def _named(template: types.CodeType, names: list[str]) -> types.CodeType:
    """``template`` (`_compile`) with the fields' names for ``_0``, ``_1``...: in its
    parameters, and as the keys it stores their values under."""
    placeholders = {f"_{index}": name for index, name in enumerate(names)}
    return template.replace(
        co_varnames=tuple(placeholders.get(name, name) for name in template.co_varnames),
        co_consts=tuple(
            placeholders.get(value, value) if type(value) is str else value
            for value in template.co_consts
        ),
    )


class _Factory:
    """What a field with a default factory defaults to in ``__init__``'s signature."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


_params: Any = None


def _frozen_params(recorded: Any) -> Any:
    """What ``dataclass(frozen=True)`` records of its arguments (one record for every class
    `frozen` makes), from what ``dataclass(init=False, repr=False, eq=False)`` recorded (None:
    nothing was, `_own_fields` collected the fields): the same, those four set as
    ``dataclass(frozen=True)`` sets them. A class of its own made by
    ``dataclass(frozen=True)`` would cost half a millisecond of every import."""
    global _params
    if _params is None:
        if recorded is None:
            probe: Any = dataclasses.dataclass(init=False, repr=False, eq=False)
            recorded = probe(type("_Probe", (), {"__doc__": "-"})).__dataclass_params__
        kind = type(recorded)
        try:
            values = {name: getattr(recorded, name) for name in kind.__slots__}
            values |= {"init": True, "repr": True, "eq": True, "frozen": True}
            _params = kind(**values)
        except (AttributeError, TypeError):  # a Python whose record is made otherwise
            _params = dataclasses.dataclass(frozen=True)(type("_Params", (), {}))
            _params = _params.__dataclass_params__
    return _params


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of the fields named, as the generated ``__eq__`` and ``__hash__`` build it."""
    if len(names) == 1:
        (name,) = names
        return lambda self: (getattr(self, name),)
    return attrgetter(*names) if names else lambda self: ()


def _setattr(cls: type, names: tuple[str, ...]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[arg-type]

    return __setattr__


def _delattr(cls: type, names: tuple[str, ...]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[arg-type]

    return __delattr__


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    @recursive_repr()
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _eq(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, object], Any]:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __hash__
