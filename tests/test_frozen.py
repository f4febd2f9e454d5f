"""`frozen` makes the class ``dataclasses.dataclass(frozen=True)`` makes, only faster.

Each shape below is defined twice, once by each decorator, and every behaviour a caller can
see is compared: the signature, the text, equality and hash, the frozen errors, ``replace``,
``asdict``, copies, ``__post_init__``, a class's own methods and the cases `frozen` leaves to
``dataclasses`` whole.
"""

from __future__ import annotations

import abc
import builtins
import copy
import dataclasses
import inspect
import sys
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from rds_guard.core.frozen import frozen

Decorate = Callable[[type], type]
STANDARD: Decorate = dataclasses.dataclass(frozen=True)


def every_field_kind(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """Defaults, factories, and fields left out of init, repr, compare or hash."""

        a: int
        b: str = "b"
        c: list[int] = dataclasses.field(default_factory=list)
        d: int = dataclasses.field(default=4, repr=False)
        e: int = dataclasses.field(default=5, compare=False)
        f: int = dataclasses.field(default=6, hash=False)
        g: tuple[int, ...] = dataclasses.field(init=False, default=())
        h: dict[str, int] = dataclasses.field(init=False, default_factory=dict)
        i: int = dataclasses.field(default=9, compare=False, hash=True)

    return Shape


def hash_choices(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """Hashable fields, each a different choice of compare and hash."""

        a: int
        e: int = dataclasses.field(default=5, compare=False)
        f: int = dataclasses.field(default=6, hash=False)
        i: int = dataclasses.field(default=9, compare=False, hash=True)

    return Shape


def no_fields(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """No fields at all."""

    return Shape


def one_field(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """One field: its key is a 1-tuple, as dataclasses builds it."""

        only: float

    return Shape


def no_docstring(decorate: Decorate) -> type:
    @decorate
    class Shape:
        a: int
        b: list[str] = dataclasses.field(default_factory=list)

    return Shape


def post_init(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """A field derived in ``__post_init__``."""

        a: int
        doubled: int = dataclasses.field(init=False, repr=False, compare=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "doubled", self.a * 2)

    return Shape


def own_methods(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """Its own text and equality: kept, and a hash is still added."""

        a: int
        b: int = 0

        def __repr__(self) -> str:
            return f"<{self.a}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Shape) and other.a == self.a

    return Shape


def own_hash(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """Its own hash: kept."""

        a: int

        def __hash__(self) -> int:
            return 7

    return Shape


def own_init(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """Its own ``__init__``: kept."""

        a: int

        def __init__(self, text: str) -> None:
            object.__setattr__(self, "a", len(text))

    return Shape


def init_var(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """A pseudo-field: left to dataclasses."""

        a: int
        scale: dataclasses.InitVar[int] = 1
        scaled: int = dataclasses.field(init=False, default=0)

        def __post_init__(self, scale: int) -> None:
            object.__setattr__(self, "scaled", self.a * scale)

    return Shape


def class_var(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """A class variable: not a field."""

        kind: ClassVar[str] = "shape"
        a: int = 1

    return Shape


def keyword_only(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """A keyword-only field."""

        a: int
        b: int = dataclasses.field(default=2, kw_only=True)
        c: int = 3

    return Shape


class _Doubled:
    """A data descriptor: assigning to it stores twice the value."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = f"_{name}"

    def __get__(self, instance: Any, owner: type) -> Any:
        return self if instance is None else getattr(instance, self.name)

    def __set__(self, instance: Any, value: int) -> None:
        object.__setattr__(instance, self.name, value * 2)

    def __repr__(self) -> str:
        return "<doubled>"


def descriptor_field(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """A field whose default is a data descriptor: set through it."""

        a: int = _Doubled()  # type: ignore[assignment]

    return Shape


def slotted(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """Slots of its own: no __dict__ to store in."""

        __slots__ = ("a",)
        a: int

    return Shape


def field_named_self(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """A field named self."""

        self: int
        a: int = 0

    return Shape


class _Shown(abc.ABC):
    """An abstract base whose ``__repr__`` and ``__eq__`` a dataclass gives."""

    @abc.abstractmethod
    def __repr__(self) -> str: ...

    @abc.abstractmethod
    def __eq__(self, other: object) -> bool: ...


def abstract_base(decorate: Decorate) -> type:
    @decorate
    class Shape(_Shown):
        """Its base's abstract methods are the ones the decorator makes."""

        a: int

    return Shape


class _DoublingBase:
    """A plain base with a data descriptor where a subclass has a field."""

    a = _Doubled()


def base_descriptor(decorate: Decorate) -> type:
    @decorate
    class Shape(_DoublingBase):
        """A field named like a descriptor of its base: set through it."""

        a: int

    return Shape


def descriptor_default(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """A field whose ``field(default=...)`` is a data descriptor."""

        a: int = dataclasses.field(default=_Doubled())  # type: ignore[assignment]

    return Shape


Given = dataclasses.InitVar
Rest = dataclasses.KW_ONLY


def aliased_pseudo_fields(decorate: Decorate) -> type:
    @decorate
    class Shape:
        """``InitVar`` and ``KW_ONLY`` under other names (annotations are strings here)."""

        a: int
        scale: Given[int] = 1
        _: Rest
        b: int = 0

        def __post_init__(self, scale: int) -> None:
            object.__setattr__(self, "b", self.a * scale)

    return Shape


def base_field(decorate: Decorate) -> type:
    class Base:
        """A plain base whose attribute is a `dataclasses.field`."""

        a = dataclasses.field(default=1)

    class Shape(Base):
        """Its field's default is the base's `field`."""

        a: int

    return decorate(Shape)


SHAPES = [
    every_field_kind,
    hash_choices,
    no_fields,
    one_field,
    no_docstring,
    post_init,
    own_methods,
    own_hash,
    own_init,
    init_var,
    class_var,
    keyword_only,
    descriptor_field,
    slotted,
    field_named_self,
    abstract_base,
    base_descriptor,
    descriptor_default,
    aliased_pseudo_fields,
    base_field,
]
ARGUMENTS: dict[Callable[[Decorate], type], tuple[tuple[Any, ...], tuple[Any, ...]]] = {
    every_field_kind: ((1, "x", [2]), (1, "y", [2])),
    hash_choices: ((1, 20, 30, 40), (1, 21, 31, 41)),
    no_fields: ((), ()),
    one_field: ((1.5,), (2.5,)),
    no_docstring: ((1, ["a"]), (1, ["b"])),
    post_init: ((3,), (4,)),
    own_methods: ((1, 2), (2, 2)),
    own_hash: ((1,), (2,)),
    own_init: (("abc",), ("ab",)),
    init_var: ((2, 5), (2, 6)),
    class_var: ((1,), (2,)),
    keyword_only: ((1,), (2,)),
    descriptor_field: ((1,), (2,)),
    slotted: ((1,), (2,)),
    field_named_self: ((1, 2), (1, 3)),
    abstract_base: ((1,), (2,)),
    base_descriptor: ((1,), (2,)),
    descriptor_default: ((1,), (2,)),
    aliased_pseudo_fields: ((1, 3), (1, 4)),
    base_field: ((2,), (3,)),
}


def _outcome(act: Callable[[], Any]) -> tuple[str, Any]:
    """What ``act`` returned, or the exception it raised (type and text)."""
    try:
        return ("returned", act())
    except Exception as error:
        return ("raised", f"{type(error).__name__}: {error}")


def _seen(shape: type, args: tuple[Any, ...], other_args: tuple[Any, ...]) -> dict[str, Any]:
    """Everything a caller can see of ``shape`` and two of its instances (one per args)."""
    one, again, other = shape(*args), shape(*args), shape(*other_args)
    seen: dict[str, Any] = {
        "signature": str(inspect.signature(shape)),
        "init annotations": shape.__init__.__annotations__,  # type: ignore[misc]
        "doc": shape.__doc__,
        "params": {
            name: getattr(shape.__dataclass_params__, name)  # type: ignore[attr-defined]
            for name in type(shape.__dataclass_params__).__slots__  # type: ignore[attr-defined]
        },
        "fields": [
            (
                f.name,
                f.type,
                f.init,
                f.repr,
                f.compare,
                f.hash,
                f.kw_only,
                dict(f.metadata),
                repr(f.default),
                f.default_factory is not dataclasses.MISSING,
            )
            for f in dataclasses.fields(shape)
        ],
        "class attributes": {
            f.name: repr(getattr(shape, f.name, "<none>")) for f in dataclasses.fields(shape)
        },
        "match args": getattr(shape, "__match_args__", None),
        "repr": (repr(one), repr(other)),
        "vars": _outcome(lambda: vars(one)),
        "equal": (one == again, one == other, one != again, one != other),
        "against another type": one.__eq__(object()),
        "hash": (_outcome(lambda: hash(one)), _outcome(lambda: hash(again) == hash(one))),
        "asdict": dataclasses.asdict(one),
        "astuple": dataclasses.astuple(one),
        "deepcopy": _outcome(lambda: (copy.deepcopy(one) == one, repr(copy.deepcopy(one)))),
        "copy": _outcome(lambda: repr(copy.copy(one))),
    }
    for name in ("a", "not_a_field"):
        with pytest.raises(dataclasses.FrozenInstanceError) as assigned:
            setattr(one, name, 1)
        with pytest.raises(dataclasses.FrozenInstanceError) as deleted:
            delattr(one, name)
        seen[f"frozen {name}"] = (str(assigned.value), str(deleted.value))
    if "a" in inspect.signature(shape).parameters:
        seen["replace"] = repr(dataclasses.replace(one, a=0))
    return seen


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape.__name__)
def test_frozen_makes_what_dataclasses_makes(shape: Callable[[Decorate], type]) -> None:
    args, other_args = ARGUMENTS[shape]
    standard, ours = shape(STANDARD), shape(frozen)
    assert _seen(ours, args, other_args) == _seen(standard, args, other_args)


def badly_ordered(decorate: Decorate) -> type:
    class Shape:
        """A field without a default after one with."""

        a: int = 1
        b: int

    return decorate(Shape)


def own_init_badly_ordered(decorate: Decorate) -> type:
    class Shape:
        """Its own __init__, and a field without a default after one with."""

        a: int = 1
        b: int

        def __init__(self) -> None:
            pass

    return decorate(Shape)


def own_setattr(decorate: Decorate) -> type:
    class Shape:
        """Its own __setattr__, which a frozen class cannot have."""

        a: int

        def __setattr__(self, name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

    return decorate(Shape)


@pytest.mark.parametrize(
    "shape", [badly_ordered, own_init_badly_ordered, own_setattr], ids=lambda shape: shape.__name__
)
def test_a_class_dataclasses_refuses_is_refused_with_its_words(
    shape: Callable[[Decorate], type],
) -> None:
    with pytest.raises(TypeError) as standard:
        shape(STANDARD)
    with pytest.raises(TypeError) as ours:
        shape(frozen)
    assert str(ours.value) == str(standard.value)


def test_a_frozen_subclass_of_a_frozen_class_is_made_as_dataclasses_makes_it() -> None:
    def build(decorate: Decorate) -> type:
        @decorate
        class Base:
            """The base."""

            a: int

        @decorate
        class Child(Base):
            """The child."""

            b: int = 2

        return Child

    standard, ours = build(STANDARD), build(frozen)
    assert _seen(ours, (1,), (2, 3)) == _seen(standard, (1,), (2, 3))


def test_text_of_an_instance_inside_itself_is_cut_as_dataclasses_cuts_it() -> None:
    texts = []
    for decorate in (STANDARD, frozen):
        shape = one_field(decorate)
        holder: list[Any] = []
        inside = shape(holder)
        holder.append(inside)
        texts.append(repr(inside))
    assert texts[0] == texts[1] == "one_field.<locals>.Shape(only=[...])"


def test_factories_run_once_per_instance() -> None:
    shape = every_field_kind(frozen)
    first, second = shape(1), shape(1)
    assert first.c == [] and first.c is not second.c
    assert first.h == {} and first.h is not second.h


def test_a_plain_class_is_made_with_one_compiled_method_at_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `frozen` is for: ``dataclasses`` compiles six methods of a frozen class, one
    ``exec`` each (up to Python 3.12; 3.13 compiles them in one ``exec``, still six methods);
    `frozen` compiles ``__init__`` alone, once per layout of fields: a second class laid out
    alike, its fields named otherwise, compiles nothing."""
    from rds_guard.core import frozen as module

    compiled: list[str] = []
    real_exec = builtins.exec

    def counting_exec(source: Any, *args: Any) -> None:
        # Python 3.13's dataclasses, which collects a class's fields there (`frozen` leaves
        # that to it), compiles a function that makes no method: not counted.
        if not str(source).rstrip().endswith("return ()"):
            compiled.append(str(source))
        real_exec(source, *args)

    monkeypatch.setattr(builtins, "exec", counting_exec)
    monkeypatch.setattr(module, "_TEMPLATES", {})
    every_field_kind(STANDARD)
    assert len(compiled) == (6 if sys.version_info < (3, 13) else 1)
    assert sum(source.count("def ") for source in compiled) >= 6
    compiled.clear()
    every_field_kind(frozen)
    assert len(compiled) == 1 and "def __init__(" in compiled[0]
    compiled.clear()

    @frozen
    class Alike:
        """The layout of `every_field_kind`, other names."""

        z: int
        y: str = "y"
        x: list[int] = dataclasses.field(default_factory=list)
        w: int = 4
        v: int = 5
        u: int = 6
        t: tuple[int, ...] = dataclasses.field(init=False, default=())
        s: dict[str, int] = dataclasses.field(init=False, default_factory=dict)
        r: int = 9

    assert compiled == []
    made = Alike(1, r=10)
    assert vars(made) == {"z": 1, "y": "y", "x": [], "w": 4, "v": 5, "u": 6, "s": {}, "r": 10}
    assert str(inspect.signature(Alike)) == (
        "(z: 'int', y: 'str' = 'y', x: 'list[int]' = <factory>, w: 'int' = 4, v: 'int' = 5,"
        " u: 'int' = 6, r: 'int' = 9) -> None"
    )


def test_a_record_of_arguments_made_otherwise_is_taken_from_dataclasses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a Python whose record of a dataclass's arguments has no slots to copy, the record is
    the one ``dataclass(frozen=True)`` makes."""
    from rds_guard.core import frozen as module

    monkeypatch.setattr(module, "_params", None)

    class Recorded:
        """A record of arguments made some other way."""

    made = module._frozen_params(Recorded())
    expected = dataclasses.dataclass(frozen=True)(type("Expected", (), {}))
    assert repr(made) == repr(expected.__dataclass_params__)  # type: ignore[attr-defined]
    assert made.frozen and made.init and made.repr and made.eq


# What decides what an ``__init__`` does; its line numbers and names are where it was written.
_BEHAVIOUR = (
    "co_code",
    "co_consts",
    "co_names",
    "co_varnames",
    "co_freevars",
    "co_cellvars",
    "co_argcount",
    "co_posonlyargcount",
    "co_kwonlyargcount",
    "co_flags",
    "co_nlocals",
    "co_stacksize",
    "co_exceptiontable",
)


def _makers() -> dict[str, Callable[..., Any]]:
    from rds_guard.core import frozen_inits

    return {
        name.removeprefix("make_"): value
        for name, value in vars(frozen_inits).items()
        if name.startswith("make_")
    }


@pytest.mark.parametrize("layout", sorted(_makers()))
def test_each_precompiled_init_is_the_one_frozen_compiles_for_its_layout(layout: str) -> None:
    """`frozen_inits` holds what `frozen.source_of` writes, compiled with the module: an
    edit there (or to `source_of`) that changes what an ``__init__`` does fails here."""
    from rds_guard.core import frozen as module

    compiled = module._compile(layout)
    precompiled = module._inner(_makers()[layout].__code__)
    for attribute in _BEHAVIOUR:
        if hasattr(compiled, attribute):
            assert getattr(precompiled, attribute) == getattr(compiled, attribute), attribute


def test_every_layout_of_rds_guards_classes_is_precompiled() -> None:
    """Importing every module of rds_guard, in a fresh interpreter, compiles no ``__init__``:
    each class's layout is in `frozen_inits`. A new layout is listed with its maker's source
    (`frozen.source_of`), to add there."""
    from audit_helpers import run_python

    script = (
        "import importlib, pkgutil, rds_guard\n"
        "from rds_guard.core import frozen, frozen_inits\n"
        "for info in pkgutil.walk_packages(rds_guard.__path__, 'rds_guard.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(' '.join(sorted(frozen._TEMPLATES)))\n"
    )
    done = run_python(script, timeout=120)
    assert done.returncode == 0, done.stderr
    from rds_guard.core import frozen as module

    made = done.stdout.split()
    assert len(made) > 10  # the classes were made: the package defines dozens
    missing = [layout for layout in made if layout not in _makers()]
    assert not missing, "\n".join(module.source_of(layout, f"make_{layout}") for layout in missing)


def test_a_layout_not_precompiled_is_compiled_and_made_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without its maker in `frozen_inits`, a layout is compiled from `frozen.source_of`: the
    class is the same."""
    from rds_guard.core import frozen as module
    from rds_guard.core import frozen_inits

    layout = "pppF"
    assert layout in _makers()
    monkeypatch.delattr(frozen_inits, f"make_{layout}")
    monkeypatch.setattr(module, "_TEMPLATES", {})

    def shape(decorate: Decorate) -> type:
        @decorate
        class Three:
            """Three fields and a factory."""

            a: int
            b: str
            c: float
            d: list[int] = dataclasses.field(default_factory=list)

        return Three

    ours, standard = shape(frozen), shape(STANDARD)
    assert list(module._TEMPLATES) == [layout]
    expected = {"a": 1, "b": "b", "c": 2.0, "d": []}
    assert vars(ours(1, "b", 2.0)) == vars(standard(1, "b", 2.0)) == expected
    assert str(inspect.signature(ours)) == str(inspect.signature(standard))
