"""The ``__init__`` of each layout of fields among rds_guard's own classes, for `frozen`.

`frozen.source_of` writes these functions; here Python compiles them once, into this module's
bytecode file, and `frozen` takes each ``__init__``'s code from its maker instead of compiling
it at every import (about 0.2 ms a layout). A layout missing here is compiled as before;
tests/test_frozen.py checks that each maker is what `frozen.source_of` writes, and that every
layout rds_guard's classes have is here. ``make_<layout>`` is the maker of ``<layout>``
(`frozen._layout`).
"""

# mypy: ignore-errors
# (the makers are untyped: `frozen` types the __init__ it makes of their code)

# As `frozen` compiles them: the flag is part of their code.
from __future__ import annotations


def make_p(__FACTORY):
    def __init__(self, _0):
        __fields = self.__dict__
        __fields["_0"] = _0

    return __init__


def make_pp(__FACTORY):
    def __init__(self, _0, _1):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1

    return __init__


def make_ppP(__FACTORY):
    def __init__(self, _0, _1):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        self.__post_init__()

    return __init__


def make_ppp(__FACTORY):
    def __init__(self, _0, _1, _2):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2

    return __init__


def make_pppF(__FACTORY, __factory_3):
    def __init__(self, _0, _1, _2, _3):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = __factory_3() if _3 is __FACTORY else _3

    return __init__


def make_pppp(__FACTORY):
    def __init__(self, _0, _1, _2, _3):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3

    return __init__


def make_ppppp(__FACTORY):
    def __init__(self, _0, _1, _2, _3, _4):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3
        __fields["_4"] = _4

    return __init__


def make_pppppP(__FACTORY):
    def __init__(self, _0, _1, _2, _3, _4):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3
        __fields["_4"] = _4
        self.__post_init__()

    return __init__


def make_ppFFFF(__FACTORY, __factory_2, __factory_3, __factory_4, __factory_5):
    def __init__(self, _0, _1, _2, _3, _4, _5):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = __factory_2() if _2 is __FACTORY else _2
        __fields["_3"] = __factory_3() if _3 is __FACTORY else _3
        __fields["_4"] = __factory_4() if _4 is __FACTORY else _4
        __fields["_5"] = __factory_5() if _5 is __FACTORY else _5

    return __init__


def make_pppppp(__FACTORY):
    def __init__(self, _0, _1, _2, _3, _4, _5):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3
        __fields["_4"] = _4
        __fields["_5"] = _5

    return __init__


def make_ppppppp(__FACTORY):
    def __init__(self, _0, _1, _2, _3, _4, _5, _6):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3
        __fields["_4"] = _4
        __fields["_5"] = _5
        __fields["_6"] = _6

    return __init__


def make_pppppppp(__FACTORY):
    def __init__(self, _0, _1, _2, _3, _4, _5, _6, _7):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3
        __fields["_4"] = _4
        __fields["_5"] = _5
        __fields["_6"] = _6
        __fields["_7"] = _7

    return __init__


def make_ppppppppp(__FACTORY):
    def __init__(self, _0, _1, _2, _3, _4, _5, _6, _7, _8):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3
        __fields["_4"] = _4
        __fields["_5"] = _5
        __fields["_6"] = _6
        __fields["_7"] = _7
        __fields["_8"] = _8

    return __init__


def make_pppFpppppppfP(__FACTORY, __factory_3, __factory_11):
    def __init__(self, _0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = __factory_3() if _3 is __FACTORY else _3
        __fields["_4"] = _4
        __fields["_5"] = _5
        __fields["_6"] = _6
        __fields["_7"] = _7
        __fields["_8"] = _8
        __fields["_9"] = _9
        __fields["_10"] = _10
        __fields["_11"] = __factory_11()
        self.__post_init__()

    return __init__


def make_ppppppppppppp(__FACTORY):
    def __init__(self, _0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3
        __fields["_4"] = _4
        __fields["_5"] = _5
        __fields["_6"] = _6
        __fields["_7"] = _7
        __fields["_8"] = _8
        __fields["_9"] = _9
        __fields["_10"] = _10
        __fields["_11"] = _11
        __fields["_12"] = _12

    return __init__


def make_pppppppppFpppF(__FACTORY, __factory_9, __factory_13):
    def __init__(self, _0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3
        __fields["_4"] = _4
        __fields["_5"] = _5
        __fields["_6"] = _6
        __fields["_7"] = _7
        __fields["_8"] = _8
        __fields["_9"] = __factory_9() if _9 is __FACTORY else _9
        __fields["_10"] = _10
        __fields["_11"] = _11
        __fields["_12"] = _12
        __fields["_13"] = __factory_13() if _13 is __FACTORY else _13

    return __init__


def make_pppppppppppppppppppppP(__FACTORY):
    def __init__(
        self,
        _0,
        _1,
        _2,
        _3,
        _4,
        _5,
        _6,
        _7,
        _8,
        _9,
        _10,
        _11,
        _12,
        _13,
        _14,
        _15,
        _16,
        _17,
        _18,
        _19,
        _20,
    ):
        __fields = self.__dict__
        __fields["_0"] = _0
        __fields["_1"] = _1
        __fields["_2"] = _2
        __fields["_3"] = _3
        __fields["_4"] = _4
        __fields["_5"] = _5
        __fields["_6"] = _6
        __fields["_7"] = _7
        __fields["_8"] = _8
        __fields["_9"] = _9
        __fields["_10"] = _10
        __fields["_11"] = _11
        __fields["_12"] = _12
        __fields["_13"] = _13
        __fields["_14"] = _14
        __fields["_15"] = _15
        __fields["_16"] = _16
        __fields["_17"] = _17
        __fields["_18"] = _18
        __fields["_19"] = _19
        __fields["_20"] = _20
        self.__post_init__()

    return __init__
