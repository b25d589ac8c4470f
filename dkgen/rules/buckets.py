"""Bucket names Cloud Storage refuses, beyond what the schema's pattern says.

The schema admits 3-63 lowercase letters, digits, ``-``, ``_`` and ``.``,
starting and ending with a letter or digit. Cloud Storage's naming rules
(cloud.google.com/storage/docs/buckets#naming) also forbid: the ``goog``
prefix; ``google`` anywhere, and close misspellings such as ``g00gle``; a
name in IP-address form (``192.168.5.4``); and, since a dotted name must be
a DNS name, two dots in a row or a dash next to a dot (``a..b``, ``a-.b``).
Such a name would pass the build and fail at ``cluster.sh create``'s IAM
grant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import Locator, format_path
from dkgen.settings import Settings

_GOOGLE = re.compile(r"g[o0][o0]g[l1]e")
_IP_SHAPED = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}\Z")


def bucket_name_problem(name: str) -> str | None:
    """Why Cloud Storage refuses ``name`` (which the schema's pattern admits), or None."""
    if name.startswith("goog"):
        return "begins with 'goog', which Cloud Storage reserves"
    if _GOOGLE.search(name):
        return "contains 'google' (or a look-alike), which Cloud Storage refuses"
    if _IP_SHAPED.match(name):
        return "has the form of an IP address, which Cloud Storage refuses"
    for pair in ("..", "-.", ".-"):
        if pair in name:
            return f"contains {pair!r}: a dotted bucket name is a DNS name"
    return None


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    for index, bucket in enumerate(settings.gcs.buckets):
        problem = bucket_name_problem(bucket.name)
        if problem is None:
            continue
        path = (*where.path(None, "gcs.buckets"), index, "name")
        yield Problem(
            where.origin(path),
            format_path(path),
            f"{bucket.name!r} {problem}",
            "use the bucket's real name, as `gcloud storage buckets list` shows it",
        )
