"""YAML in and out: every YAML dkgen reads or writes goes through this package.

* :mod:`dkgen.yaml.read` is the one interface for reading settings (files,
  ``-s`` values): the limits of :mod:`dkgen.limits`, then the fast reader,
  then the ruamel reader for whatever the fast one declines.
* :mod:`dkgen.yaml.read_fast` reads the common case from libyaml's event
  stream; :mod:`dkgen.yaml.read_ruamel` reads everything else and words
  every error. Both give the same :class:`Document` for the same text.
* :mod:`dkgen.yaml.dump` writes the generated manifests (block style, no
  anchors, the same bytes on every machine).
* :mod:`dkgen.yaml.text` writes the YAML shown to people (``dkgen config``,
  ``explain``, ``init``), with aligned end-of-line comments.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from dkgen.errors import Origin
from dkgen.keypath import KeyPath

Positions = dict[KeyPath, Origin]


class Document(NamedTuple):
    """One settings document: plain data, and where each value and key stands."""

    data: dict[str, Any]
    values: Positions
    keys: Positions
