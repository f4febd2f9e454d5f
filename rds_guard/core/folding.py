"""Text as a service comparing it as Java does may read it: `folded`.

Its own module, with no imports: the AWS CLI plugin's stand-ins read names with it on every
request of an rds, DocumentDB or Neptune command before the guard is loaded, and the rules
read values with it.
"""

from __future__ import annotations

FOLDED_LETTERS = str.maketrans({"\u0131": "i", "\u0130": "i", "\u017f": "s", "\u212a": "k"})
"""The letters a service comparing names as Java does may take for ASCII ones (``ı``, ``İ``,
``ſ``, the Kelvin sign): `folded` and the guard's `hooks.may_be_turned` fold text with it."""


def folded(name: str) -> str:
    """``name`` (a parameter's name, or a word a value must be, such as ``restore``) as a
    service comparing it as Java does (``equalsIgnoreCase``) may take it, trimmed as Java's
    ``trim()`` (every control character and the space) and Python's ``strip()`` trim:
    `FOLDED_LETTERS`, lowercase (botocore writes ASCII names only: others are another
    handler's)."""
    return name.strip(_TRIMMED).translate(FOLDED_LETTERS).lower()


_TRIMMED = "".join(map(chr, range(0x21))) + (
    "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
