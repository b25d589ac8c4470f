"""Input and output limits, defined once for every reader and writer (README "Limits").

A settings file is a few kilobytes; these bound hostile input long before
time or memory run short. The fast reader (:mod:`dkgen.yaml.read_fast`) and the
ruamel reader (:mod:`dkgen.yaml.read_ruamel`) both take them from here, so a file is
accepted or refused the same way whichever reader reads it.

Input size alone does not bound the output: an alias repeats a long string,
a JSON 6902 ``copy`` doubles what it copies. So what aliases and patches may
*produce* is bounded too, and checked while it is produced (each alias and
each operation adds to a running total, and the one past the limit stops
the work), not measured afterwards.
"""

from __future__ import annotations

MAX_FILE_BYTES = 1024 * 1024
MAX_VALUES = 5_000
MAX_DEPTH = 32
# The text (strings, keys and numbers, in UTF-8 bytes) one document, -s value
# or patch text may hold once its aliases are expanded: what a file could
# hold written out, so only aliases that repeat long text reach it.
MAX_EXPANDED_BYTES = MAX_FILE_BYTES
# One generated object after every patch, in bytes as plain data (see
# dkgen.render.patches.data_bytes). etcd, where the API server stores
# objects, takes requests of at most 1.5 MiB by default, so a larger object
# could not be applied anyway.
MAX_OBJECT_BYTES = 1536 * 1024
