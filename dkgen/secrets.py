"""What counts as a plaintext secret in settings, so validation can refuse it.

A build copies settings into the output directory, which is meant for git.
No secret value may get there, so dkgen refuses settings that carry one and
says where the value belongs instead: a Kubernetes Secret, created at apply
time and referenced by name. The rules (README "Secrets"):

1. A setting dkgen does not know whose name says it holds a credential
   (``jupyter.token``, ``jupyter.password``, ``cluster.api_key``) is refused
   with that explanation rather than as a mere unknown key.
2. An environment variable (in ``workers.env`` or added by a patch), or a
   key of ``dask_config``, whose name says it holds a credential: a word ``PASSWORD``, ``PASSWD``,
   ``PASSPHRASE``, ``SECRET``, ``TOKEN``, ``CREDENTIAL(S)`` or ``APIKEY``,
   or the pairs ``API KEY``, ``ACCESS KEY``, ``PRIVATE KEY``, ``SECRET KEY``
   (words split at ``_``, ``-``, ``.`` and camelCase). Its value may still
   be empty or an absolute file path (``GOOGLE_APPLICATION_CREDENTIALS=
   /var/secrets/key.json``): pointing at a mounted Secret is the right way.
3. Any string anywhere in the settings that has the shape of a well-known
   credential: a PEM private key, an AWS access key ID, a Google API key, a
   GitHub, GitLab or Slack token, or a URL with a password in it (a
   Kubernetes ``$(VAR)`` reference in the password's place is fine).

Messages never repeat the value, and a ``-s`` override that carries one is
named with its value redacted.
"""

from __future__ import annotations

import itertools
import re

from dkgen.errors import Origin

_WORDS = frozenset(
    {
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "SECRET",
        "SECRETS",
        "TOKEN",
        "TOKENS",
        "CREDENTIAL",
        "CREDENTIALS",
        "APIKEY",
    }
)
_PAIRS = frozenset({("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY")})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a PEM private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("an AWS access key ID", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
)
# scheme://user:password@host; the password may not be a $(VAR) reference,
# which Kubernetes expands from another (Secret-backed) variable. The scheme
# is matched only from the start of its run of scheme characters, and its
# first letter is the first letter there: searched from every letter of a
# long word instead, the search took time quadratic in the value's length.
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.\-])[0-9+.\-]*[A-Za-z][A-Za-z0-9+.\-]*://"
    r"[^/\s:@]+:(?P<password>[^/\s@]+)@"
)
_ENV_REFERENCE = re.compile(r"^\$\([A-Za-z_][A-Za-z0-9_]*\)$")
# `openssl rand -hex 24`, which the output README suggests, gives 48 of these.
_HEX_TOKEN = re.compile(r"^[0-9a-f]{32,}$")


def _words(name: str) -> list[str]:
    return [w.upper() for w in _SEPARATORS.split(_CAMEL.sub("_", name)) if w]


def credential_name(name: str) -> bool:
    """True when a key or variable name says that it holds a credential.

    >>> [credential_name(n) for n in ("AWS_SECRET_ACCESS_KEY", "apiKey", "EXTRA_PIP_PACKAGES")]
    [True, True, False]
    """
    words = _words(name)
    if any(word in _WORDS for word in words):
        return True
    return any(pair in _PAIRS for pair in itertools.pairwise(words))


def harmless_credential_value(value: str) -> bool:
    """An empty value or an absolute file path: a reference, not the secret itself."""
    return value == "" or value.startswith("/")


def secret_shape(value: str) -> str | None:
    """What kind of well-known credential ``value`` contains, if any.

    >>> secret_shape("https://me:hunter2@pypi.example.com/simple")
    'a URL with a password in it'
    >>> secret_shape("https://me:$(PIP_PASSWORD)@pypi.example.com/simple") is None
    True
    """
    for description, pattern in _SHAPES:
        if pattern.search(value):
            return description
    for match in _URL_PASSWORD.finditer(value):
        if not _ENV_REFERENCE.match(match.group("password")):
            return "a URL with a password in it"
    return None


def looks_like_token(name: str) -> bool:
    """A Secret *name* that is really a random token (a long hex string)."""
    return bool(_HEX_TOKEN.match(name))


def redacted(origin: Origin) -> Origin:
    """``-s KEY=VALUE`` as ``-s KEY=<redacted>``: messages must not repeat a secret."""
    if origin.source.startswith("-s ") and "=" in origin.source:
        key = origin.source.split("=", 1)[0]
        return Origin(f"{key}=<redacted>", origin.line, origin.column)
    return origin
