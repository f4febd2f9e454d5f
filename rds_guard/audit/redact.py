"""What a record never stores: the signing values and passwords an error message may quote."""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Iterator

from ..core.patterns import Lazy

# AWS quotes the canonical request in some error messages (SignatureDoesNotMatch), the signed
# headers' values included: a session token or a signature would reach the log with them. A
# message may quote them in a header (name: value), a query (name=value), a query quoted
# URL-encoded once or twice (name%3Dvalue, name%3A%20value, name%253Dvalue) or as HTML
# (name&#61;value, name&#x3D;value), JSON ("name": "value", escaped quotes too), a Python
# dict ('name': 'value', b'value' in botocore's repr of a request, ['value'] in a parsed
# query), XML (<name>value), a Ruby hash or PHP's print_r ("name" => "value", [name] =>
# value; a separator of more than one mark: :=, ::) or SigV2's header (AWS KEYID:signature).
# Credentials' own names (aws_session_token, SecurityToken, SecretAccessKey, hyphens or
# underscores) with a separator too, and so a secret key's (SecretKey, secret-key: no prose
# word), and a command line's options (--secret-access-key VALUE, --session-token=VALUE, or
# in a list of arguments, '--session-token', 'VALUE'); a bare token only with = (or =>) or
# with its value quoted, the other bare names only with = (Credential=... in
# an Authorization header; SigV2's AWSAccessKeyId=), and a bearer token only in an
# Authorization header, so that prose keeps its words ("the token: expired"). A value runs
# to a character no token holds; a slash JSON escapes (\/, \\\/ in JSON quoted in JSON) is one
# a token holds (a run of backslashes is not: read again from each, it took quadratic time).
# Compiled when first used (few records quote an error): not on every import.
_SEPARATOR = (
    r"(?:[:=]|%3[ad]|%253[ad]|%25253[ad]|&#(?:58|61|x3[ad]);|&(?:colon|equals);|\\u003[ad])"
)
_CLOSE = r"(?:[\"'\\]*|\](?=\s*=>))"  # a name's closing quotes, or print_r's ] ([name] => value)
# The rest of a separator of more than one mark (=>, :=, ::), and spaces; taken whole (*+):
# given back, its > or = was taken for the value (a placeholder after it read as none).
_RUN = r"[\s:=>]*+"
_EQUALS = r"(?:=|%3d|%253d|%25253d|&#61;|&#x3d;|&equals;|\\u003d)"
_LEAD = r"(?:[\s\"'\\\[<:=>]|%20|%2520|b(?=[\"']))*+"  # quotes, b'', [, <, => :=: as _RUN
_SIGNING_VALUES = Lazy(
    r"(?i)("
    r"x[-_]amz[-_](?:security[-_]token|signature|credential)"
    rf"(?:{_CLOSE}\s*{_SEPARATOR}{_LEAD}|[\"']\s*,{_LEAD}|>"
    r"|[ \t]+(?=[\w+/=%-]{16}))"  # a header's name, a tab: a token's run, not a word of prose
    r"|(?<![\w-])--(?!(?:no-)?manage-)"  # (--no-)manage-master-user-password: a flag, no value
    r"(?:[\w-]*-)?(?:secret-access-key|session-token|security-token|password)"
    r"(?:\s+|=|[\"']\s*,\s*b?[\"'])"
    r"|(?<![\w-])[\w-]*(?:security[-_]?token|session[-_]?token|secret[-_]?access[-_]?key)"
    rf"(?:{_CLOSE}\s*{_SEPARATOR}{_LEAD}|[\"']\s*,{_LEAD}|>)"
    rf"|(?<![\w-])[\w-]*secret[-_]?key(?:{_CLOSE}\s*{_SEPARATOR}{_RUN}(?:b?[\"'\\]+)?|>)"
    r"|(?<![\w-])token"  # the value right after, or quoted: prose keeps its words
    rf"(?:{_EQUALS}(?:>{_LEAD}|<)?+|(?:[\"'\\]+|\](?=\s*=>))\s*{_SEPARATOR}{_RUN}"
    rf"|\s*[:=]{_RUN}(?=b?[\"']))"
    r"(?:b?[\"'\\]+)?"
    rf"|(?<![\w-])(?:signature|credential|awsaccesskeyid){_EQUALS}[\"']?"
    r"|(?<![\w-])authorization[\"'\\]*\s*[:=][\s\"'\\]*bearer\s+"
    r"|(?<![\w-])AWS\s+[A-Z0-9]{16,128}:"
    r")"
    # not a lead's bytes b, its [, its %20 or a form's + taken for the value when the value
    # cannot start (an entity's &), nor a value redacted already (a message redacted twice)
    r"(?!\+*(?:b\\*[\"']|\[|%(?:25)?20|[\"'\s])|(?<=\[)redacted\])"
    r"(?:\\{1,3}/|[^\s&,'\"<\\\]])+"
)


# A password parameter (MasterUserPassword=..., quoted back with a request's body) may hold
# any character, spaces too. Its name is words before "password" (hyphens between them, as
# in a header's). Written name=value (a form body, where & is %26; = URL-encoded or as HTML):
# to the next & or the end of the line. In XML (<name>value): to the next <. Quoted ("name":
# "value", 'name': 'value', escaped quotes too; a parsed form body's ('name', 'value') and
# 'name': ['value'], b'value' too): to the quote that closes it. With a colon or
# spaces around its = (a header, a log line): to the end of the line. As botocore's
# validation report names it ("parameter MasterUserPassword, value: ..., type: ..."): to the
# last ", type: " of the line (or else its last ", valid ..."), which the value's repr may
# hold too. With spaces or a colon, any name quoted after them: to the quote that closes it.
# Only so: "Invalid password: must contain..." keeps its words. A line's words
# after a password are lost with it: a word too many is redacted rather than a word of a
# password kept. A quoted password may hold an escaped quote of its own kind ('a\'b', "a\"b"
# in JSON, \"a\\\"b\" in JSON quoted in JSON): a backslash and what follows it are part of the
# value, and so are three and what follows them. A Ruby hash's => (or :=) after a quoted
# name is read as its colon, and PHP's print_r's [name] => value runs to the end of the line.
_PASSWORD = r"(?:password|passwd|pwd)"  # a name ending so names one (PWD= of ODBC too)
_PASSWORDS = Lazy(
    rf"(?i)((?<![\w-])[\w-]*{_PASSWORD}{_EQUALS})[^&\r\n]+"
    rf"|((?<![\w-])(?!--)[\w-]*{_PASSWORD}\\?[\"']\s*(?:[:,]|=>|:=)\s*(?:\[\s*)?b?(\\?[\"']))"
    r"(?:(?!\3)(?:\\\\\\.|\\.|.))*"
    r"|((?<![\w-])\w+password,[ \t]*value:[ \t]*)"
    r"(?:[^\r\n]*(?=, type: )|[^\r\n]*(?=, valid [a-z ]+: )|[^\r\n]+)"
    rf"|((?<![\w-])[\w-]+{_PASSWORD}[ \t]*[:=][ \t]*)[^\r\n]+"
    rf"|(<[\w-]*{_PASSWORD}>)[^<\r\n]*"
    rf"|((?<![\w-])[\w-]*{_PASSWORD}[ \t]*[:=][ \t]*(\\?[\"']))(?:(?!\8)(?:\\\\\\.|\\.|.))*"
    r"|((?<![\w-])password[ \t]+=[ \t]*)[^\r\n]+"  # with spaces around its =: no prose
    rf"|((?<![\w-])[\w-]*{_PASSWORD}\][ \t]*=>[ \t]*)[^\r\n]+"  # print_r's [name] => value
)


def _without_password(found: re.Match[str]) -> str:
    name = next(found.group(n) for n in (1, 2, 4, 5, 6, 7, 9, 10) if found.group(n) is not None)
    return f"{name}[redacted]"


# A URL's user information (``scheme://user:password@host``): botocore quotes the endpoint
# URL whole when it cannot reach it (EndpointConnectionError), and an endpoint given with a
# password for a proxy in front of the service carries it there. Written plain, it runs to
# the last `@` before the host (a password may hold ' and ", and, botocore taking it, @
# unencoded; a quote before , ] ) . or a space ends a string, and the URL with it): within a
# line where the URL is quoted (a space in the password too), within a word where it is not
# (a URL without a path, then prose naming someone@host, keeps its words). Written
# URL-encoded once, as a URL inside a query or form body is, to the last %40. A scheme is
# tried only where a word starts: tried at each letter of a long word, the run of letters
# was read again from each (quadratic: seconds for a message of 20,000 letters). A password
# may hold a raw ? or #: after the user's name and a colon, they are taken to be part of it,
# as botocore's signer reads the URL (to it, the host ends there, and the password's start is
# the port it says "could not be cast to integer"); a port then a query holding an @
# (http://h:80?to=a@b) is redacted with them.
_USER_INFO_END = r"[\"'](?![,\])\s.]|$)"  # a quote that does not end the URL's string
_QUOTED_USER_INFO = (
    rf"(?:[^\r\n/?#\"\\':]|{_USER_INFO_END})*:"
    rf"(?:[^\r\n/\"\\']|{_USER_INFO_END})+"
    rf"|(?:[^\r\n/?#\"\\']|{_USER_INFO_END})+"
)
_PLAIN_USER_INFO = (
    rf"(?:[^\s/?#\"\\':]|{_USER_INFO_END})*:(?:[^\s/\"\\']|{_USER_INFO_END})+"
    rf"|(?:[^\s/?#\"\\']|{_USER_INFO_END})+"
)
_URL_USER_INFO = Lazy(
    rf"(?i)(?<=[\"'])([a-z][a-z0-9+.-]*://)({_QUOTED_USER_INFO})(@)"
    rf"|((?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://)({_PLAIN_USER_INFO})(@)"
    r"|((?<![a-z0-9+.-])[a-z][a-z0-9+.-]*%3a%2f%2f)((?:(?!%2f)[^\s/?#&\"<>\\])+)(%40)"
)
# http.client's refusal of a header holding a line break (a session token read from a file
# with Windows line endings: a trailing CR) quotes the value alone, its repr (b'...'), with no
# name before it: the quoted value (to the line's end if it is cut short). A service's own
# "Invalid header value for x-amz-...: ..." quotes no repr and keeps its words.
_HEADER_VALUE = Lazy(
    r"(?i)(invalid header value )b?(?:'(?:[^'\\\r\n]|\\.)*'?|\"(?:[^\"\\\r\n]|\\.)*\"?)"
)
# urllib's complaint about such a URL, whose "port" is the password's start.
_PORT_NOT_A_NUMBER = Lazy(
    r"(Port could not be cast to integer value as )(?:'[^'\r\n]*'|\"[^\"\r\n]*\")"
)


def _without_user_info(found: re.Match[str]) -> str:
    first = next(group for group in (1, 4, 7) if found.group(group) is not None)
    return f"{found.group(first)}[redacted]{found.group(first + 2)}"


def without_signing_values(message: str) -> str:
    """``message`` with each session token, signature or ``Credential=`` value (an access
    key id and its scope) it quotes, the user information (a password) of each URL, and a
    header's value an HTTP client refused, replaced by ``[redacted]`` (the name it was quoted
    under is kept).

    A message may quote them under an encoding the patterns do not read (a name, its quotes
    or a token's own characters as HTML entities, a name URL-encoded, a form's ``+`` for
    spaces, one inside another). So the message, redacted, is read decoded too (HTML
    entities, the backslash escapes of JSON and of a repr, and URL escapes, a layer at a
    time, up to `_DEEPEST` layers, each read both as URL-encoded text and as a form, its
    ``+`` a space): where a reading quotes a value the patterns find (`_leaks`), that reading
    is recorded, with those values redacted (its quoting lost, never a value). A message
    still decoding past `_DEEPEST` layers (or `_MOST_READ` characters read) that may quote
    one is withheld whole (`WITHHELD`)."""
    redacted = reading = _redacted(message)
    read = 0
    for _ in range(_DEEPEST):
        read += 2 * len(reading)
        if read > _MOST_READ:  # a long message many layers deep: as one deeper still
            break
        unescaped = _unescaped(reading)
        decoded = urllib.parse.unquote(unescaped)
        # and as a form: its + a space (a token's own + is %2B there); the same length, so a
        # value found in either is redacted where it stands, in the reading that keeps a +
        as_form = urllib.parse.unquote_plus(unescaped)
        leaks = sorted(_leaks(decoded) + _leaks(as_form))
        if leaks:
            reading = redacted = _without(decoded, leaks)
        elif decoded != reading:
            reading = decoded
        elif as_form != reading:
            reading = as_form
        else:
            return redacted
    return WITHHELD if _decodes(reading) and _MAY_QUOTE.search(reading) else redacted


def _decodes(reading: str) -> bool:
    """Whether a reading of a message has another layer to decode."""
    return urllib.parse.unquote_plus(_unescaped(reading)) != reading


def _unescaped(reading: str) -> str:
    """One layer of ``reading``'s escapes read: HTML's entities, then backslashes'."""
    return _backslash_unescaped(html.unescape(reading))


_ESCAPE = Lazy(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([\"'\\/bfnrt]))")
_ESCAPED = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _backslash_unescaped(reading: str) -> str:
    """``reading`` with the backslash escapes of JSON and of a Python repr (``\\uXXXX``,
    ``\\xXX``, ``\\n``, ``\\t``, an escaped quote, slash or backslash) read as the
    characters they stand for: a multi-line message quoted in either is read as written."""

    def unescaped(found: re.Match[str]) -> str:
        code, byte, letter = found.groups()
        if letter is not None:
            return _ESCAPED.get(letter, letter)
        return chr(int(code or byte, 16))

    return _ESCAPE.sub(unescaped, reading)


WITHHELD = "[redacted: the message quotes a secret under more encodings than are read]"
"""What a message that may quote a secret under more than `_DEEPEST` encodings is recorded as."""

_DEEPEST = 8
"""How many layers of encoding a reading of a message decodes (HTML in a URL in a form...)."""
_MOST_READ = 4 * 1024 * 1024
"""How many characters of decoded readings a message is read in at most, so that a message
of megabytes many layers deep costs seconds, not tens of them: past it, a message that still
decodes and may quote a secret is withheld, as one past `_DEEPEST` layers is."""

# Every pattern below needs one of these words (or a URL's scheme) where it starts.
_MAY_QUOTE = Lazy(
    r"(?i)token|signature|credential|awsaccesskeyid|authorization|key|passw|pwd|://|%3a%2f%2f"
    r"|header value|cast to integer|aws\s"
)
_PLACEHOLDER = "[redacted]"
# A token's own characters right after a value redacted: in a message's own encoding they
# stopped the value (an entity's &, a %), decoded they are the rest of the token.
_REST_OF_A_TOKEN = Lazy(r"(?<=\[redacted\])[A-Za-z0-9+/=_-]+")
# A value found that is a placeholder, or one with its quotes, is none; one that runs on
# into a placeholder (written for the next value) still is.
_PART_OF_A_PLACEHOLDER = Lazy(r"\[redacted\]?|redacted\]")
_ANY_OF_A_VALUE = Lazy(r"[^\s\"'`<>\\\[\](){},;:+]")  # one alone is no value


def _leaks(reading: str) -> list[tuple[int, int]]:
    """Where ``reading`` (a decoded reading of a redacted message) quotes a value the patterns
    find that is no value redacted already, or the rest of a token whose start was: the
    spans, in order. Empty: none."""
    if _MAY_QUOTE.search(reading) is None:  # one quick pass over a long message quoting none
        return []
    spans = [
        (start, _past_a_placeholder(reading, end))
        for start, end in _value_spans(reading)
        if len(_ANY_OF_A_VALUE.findall(_PART_OF_A_PLACEHOLDER.sub("", reading[start:end]))) > 1
    ]
    spans += [found.span() for found in _REST_OF_A_TOKEN.finditer(reading)]
    return sorted(spans)


def _past_a_placeholder(reading: str, end: int) -> int:
    """Where a value ending at ``end`` ends once it takes with it the ``]`` of a placeholder
    it runs into (one written for the next value)."""
    runs_in = reading.endswith("[redacted", 0, end) and reading.startswith("]", end)
    return end + 1 if runs_in else end


def _without(reading: str, spans: list[tuple[int, int]]) -> str:
    """``reading`` with each of ``spans`` (in order) replaced by ``[redacted]``; spans that
    overlap are one, and one right after ``[redacted]`` is taken into it."""
    parts: list[str] = []
    last = 0
    for start, end in spans:
        if start < last:  # overlaps the one before: redacted with it
            last = max(last, end)
            continue
        follows = reading.endswith(_PLACEHOLDER, 0, start)
        parts += [reading[last:start], "" if follows else _PLACEHOLDER]
        last = end
    return "".join(parts) + reading[last:]


def _value_spans(message: str) -> Iterator[tuple[int, int]]:
    """Where the values `_redacted` replaces in ``message`` are."""
    for found in _SIGNING_VALUES.finditer(message):
        yield found.end(1), found.end()
    for found in _PASSWORDS.finditer(message):
        name = next(n for n in (1, 2, 4, 5, 6, 7, 9, 10) if found.group(n) is not None)
        yield found.end(name), found.end()
    for found in _URL_USER_INFO.finditer(message):
        yield next(found.span(n + 1) for n in (1, 4, 7) if found.group(n) is not None)
    for pattern in (_HEADER_VALUE, _PORT_NOT_A_NUMBER):
        for found in pattern.finditer(message):
            yield found.end(1), found.end()


def _redacted(message: str) -> str:
    message = _URL_USER_INFO.sub(_without_user_info, message)
    message = _PORT_NOT_A_NUMBER.sub(r"\1[redacted]", message)
    message = _HEADER_VALUE.sub(r"\1[redacted]", message)
    message = _PASSWORDS.sub(_without_password, message)
    return _SIGNING_VALUES.sub(r"\1[redacted]", message)
