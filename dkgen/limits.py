"""Input limits, defined once for every reader (README "Limits").

A settings file is a few kilobytes; these bound hostile input long before
time or memory run short. The fast reader (:mod:`dkgen.yaml.read_fast`) and the
ruamel reader (:mod:`dkgen.yaml.read_ruamel`) both take them from here, so a file is
accepted or refused the same way whichever reader reads it.
"""

from __future__ import annotations

MAX_FILE_BYTES = 1024 * 1024
MAX_VALUES = 5_000
MAX_DEPTH = 32
