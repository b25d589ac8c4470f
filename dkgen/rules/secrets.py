"""Secrets: no credential is written into the output.

- A value shaped like a known credential (a private key, a cloud or
  GitHub token, ...), anywhere in the settings or a patch.
- A variable or key whose name says it holds a credential (``API_TOKEN``,
  ``PGPASSWORD``) with a value that is not a harmless placeholder, wherever
  a key is named by the user: every worker group's ``env``, Dask's
  configuration (numbers too), labels, annotations, ``{name, value}`` in a
  patch; and a key shaped like a credential itself (:mod:`dkgen.secrets`).
- ``jupyter.token_secret`` that looks like a token itself: it is the
  *name* of the Secret that holds the token.

The fix is a Kubernetes Secret created at apply time and referenced by
name (README "Secrets"). Messages never repeat the value.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator
from dkgen.patches import patch_bodies
from dkgen.schema_index import schema_keys
from dkgen.secrets import looks_like_token, redacted, secret_problems
from dkgen.settings import Settings

# Reads through ``where`` only, which logs each read (dkgen.rules).
READS: tuple[KeyPath, ...] = ()


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every problem it finds, at the setting to change."""
    yield from _check_secrets(where)
    yield from _check_token_secret(where)


def _check_secrets(where: Locator) -> Iterator[Problem]:
    text_patches = []
    for path, body, as_text in patch_bodies(where):
        if as_text:  # read as YAML; no positions inside the text: point at the patch
            text_patches.append(path)
            yield from secret_problems(body, where.origin(path), at=path)
    data = {
        **where.data,
        "patches": [
            {**entry, "patch": None} if ("patches", index, "patch") in text_patches else entry
            for index, entry in enumerate(where.data["patches"])
        ],
    }
    yield from secret_problems(data, where.origin, settings_keys=schema_keys())


def _check_token_secret(where: Locator) -> Iterator[Problem]:
    token_secret = where.data["jupyter"]["token_secret"]
    if looks_like_token(token_secret):
        yield Problem(
            redacted(where.origin(("jupyter", "token_secret")), always=True),
            "jupyter.token_secret",
            "looks like a token itself; this setting is the *name* of the Secret that holds it",
            "name the Secret (e.g. jupyter-token) and put the token into it at apply time",
        )
