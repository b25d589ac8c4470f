"""Reading settings YAML: one interface over two readers, one set of limits.

:func:`read_file` reads a file's bytes within :data:`~dkgen.limits.MAX_FILE_BYTES`
and decodes them; :func:`parse_document` and :func:`parse_value` parse text.
Each asks :mod:`dkgen.yaml.read_fast` first (libyaml's event stream; most
settings files) and, where it declines, :mod:`dkgen.yaml.read_ruamel`, which
reads the rest and words every error. Both readers take their value and
depth limits from :mod:`dkgen.limits`: the fast one declines past them and
the ruamel one refuses, so a file is accepted or refused the same way
whichever reader reads it (tests/test_yaml_read.py holds them equal at each
limit's edge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dkgen.errors import InputError, Origin
from dkgen.limits import MAX_FILE_BYTES
from dkgen.suggest import missing_file_hint
from dkgen.yaml import Document, read_fast, read_ruamel
from dkgen.yaml.directives import check_directives


def parse_document(text: str, source: str) -> Document:
    """Settings text (already read) as a :class:`~dkgen.yaml.Document`;
    ``source`` is how messages name it."""
    _reject_old_yaml(text, source)
    fast = read_fast.parse_tree(text, source)
    if fast is not None:
        return Document(*fast)
    return read_ruamel.parse_document(text, source)


def parse_value(raw: str, origin: Origin) -> Any:
    """A ``-s`` value typed as YAML 1.2 (the empty text is the empty string)."""
    if raw == "":
        return ""
    check_directives(raw, origin.source, lines=False)
    found, value = read_fast.parse_value(raw)
    if found:
        return value
    return read_ruamel.parse_value(raw, origin)


def parse_embedded(text: str, origin: Origin, *, hint: str) -> Any:
    """YAML text held in a setting (a patch given as text), read like a
    ``-s`` value: the same readers and the same limits as a settings file, so
    an alias bomb in it stops as one in a file does. ``origin`` is the
    setting's; ``hint`` says how to fix text that is not YAML."""
    check_directives(text, origin.source, lines=False)
    found, value = read_fast.parse_value(text)
    if found:
        return value
    return read_ruamel.parse_value(text, origin, hint=hint)


def read_file(path: Path, source: str, *, overlay: bool = False) -> str:
    """The text of a settings file, refused past the size limit or when not UTF-8.

    ``overlay``: the file was given as ``--overlay``, so a missing one is
    compared with overlays (dkgen.suggest), not offered a settings file."""
    origin = Origin(source)
    try:
        if path.is_dir():
            raise InputError.single(origin, "is a directory, not a settings file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError.single(
                origin,
                f"file is {size} bytes; settings files are limited to {MAX_FILE_BYTES} bytes",
            )
        # A pipe or device (<(cmd), /dev/zero) reports size 0: read at most
        # one byte past the limit, never the whole stream.
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise InputError.single(
                origin,
                f"holds more than {MAX_FILE_BYTES} bytes; settings files are limited to "
                f"{MAX_FILE_BYTES} bytes",
            )
    except FileNotFoundError:
        raise InputError.single(
            origin, "no such file", hint=missing_file_hint(path, overlay=overlay)
        ) from None
    except PermissionError:
        raise InputError.single(origin, "permission denied while reading") from None
    except OSError as err:
        raise InputError.single(origin, f"cannot read: {err.strerror}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        # The UTF-32 marks begin like UTF-16's (FF FE 00 00) or with 00 00 FE FF.
        kind = "UTF-32" if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00")) else "UTF-16"
        raise InputError.single(Origin(source, 1, 1), f"file is {kind}; save it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError.single(
            Origin(source, line, column),
            f"byte 0x{raw[err.start]:02x} is not valid UTF-8",
            hint="save the file as UTF-8",
        ) from None
    return text


def _reject_old_yaml(text: str, source: str) -> None:
    # Settings are read as YAML 1.2, always (dkgen/yaml/directives.py says why).
    check_directives(text, source)
