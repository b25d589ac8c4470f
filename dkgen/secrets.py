"""What counts as a plaintext secret in settings, so validation can refuse it.

A build copies settings into the output directory, which is meant for git.
No secret value may get there, so dkgen refuses settings that carry one and
says where the value belongs instead: a Kubernetes Secret, created at apply
time and referenced by name. The rules (README "Secrets"):

1. A setting dkgen does not know whose name says it holds a credential
   (``jupyter.token``, ``jupyter.password``, ``cluster.api_key``) is refused
   with that explanation rather than as a mere unknown key.
2. Any key whose name says it holds a credential, wherever a name is the
   user's to choose: an environment variable (of ``workers.env``, of any
   worker group's ``env``, or added by a patch as ``{name, value}``), a key
   of ``dask_config``, a label, an annotation, a key anywhere in a patch.
   The name is split into words (at ``_``, ``-``, ``.`` and camelCase); it
   names a credential when a word *ends* in ``PASSWORD``, ``PASSWD``,
   ``PASSPHRASE``, ``SECRET(S)``, ``TOKEN(S)``, ``CREDENTIAL(S)``,
   ``APIKEY``, ``ACCESSKEY``, ``SECRETKEY`` or ``PRIVATEKEY`` (so
   ``PGPASSWORD`` and ``APITOKEN`` too), when a word is ``PASS`` or, beside
   other words, ``PWD`` (``DB_PASS``, ``MYSQL_PWD``; ``PWD`` alone is the
   shell's working directory), or when two words are ``API KEY``, ``ACCESS
   KEY``, ``PRIVATE KEY``, ``SECRET KEY``, ``SIGNING KEY``, ``ENCRYPTION
   KEY`` or ``MASTER KEY``. A name whose *last* word says it holds where or
   what a credential is, not the credential (``PASSWORD_FILE``,
   ``TOKEN_PATH``, ``SECRET_NAME``, ``ACCESS_KEY_ID``, ``TOKEN_URL``,
   ``TOKEN_TTL``; the full list is :data:`_REFERENCE_WORDS`), does not.
   The value of such a name may still be empty, ``null``, a boolean, an
   absolute file path (``GOOGLE_APPLICATION_CREDENTIALS=/var/secrets/key.json``:
   pointing at a mounted Secret is the right way) or a Kubernetes ``$(VAR)``
   reference; a number is a value like any other (``password: 48151623``).
   The only setting of dkgen's own with such a name, ``jupyter.token_secret``,
   is the *name* of a Secret (rule 4).
3. Any string anywhere, and any key, that has the shape of a well-known
   credential: a PEM private key, an AWS access key ID, a Google API key, a
   GitHub, GitLab or Slack token, a URL with a password in it (with or
   without a scheme: ``user:pw@db``), or a connection string with a
   password (``Server=db;Password=pw;``, ``...?password=pw``); a Kubernetes
   ``$(VAR)`` reference in the password's place is fine. A key that is a
   long hex string (32 or more hex digits) is taken for a token too.
4. ``jupyter.token_secret`` must not look like a token itself.

Settings are checked as merged, every ``-s`` value as given (even one a
later ``-s`` overrides: the command line is listed in the output), every
patch given as text as parsed, and every object a patch changed as patched
(a JSON 6902 patch may add an empty variable and set its value in a second
operation). Messages never repeat the value, and a ``-s`` override that
carries one is named with its value redacted.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from dkgen.errors import Origin, Problem
from dkgen.keypath import KeyPath, format_path

# A word ending in one of these names a credential: PGPASSWORD, APITOKEN.
_ENDINGS = (
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
    "ACCESSKEY",
    "SECRETKEY",
    "PRIVATEKEY",
)
_PAIRS = frozenset(
    {
        ("API", "KEY"),
        ("ACCESS", "KEY"),
        ("PRIVATE", "KEY"),
        ("SECRET", "KEY"),
        ("SIGNING", "KEY"),
        ("ENCRYPTION", "KEY"),
        ("MASTER", "KEY"),
    }
)
#: Last words of names that say where or what a credential is, not what it
#: holds: PASSWORD_FILE, TOKEN_PATH, SECRET_NAME, ACCESS_KEY_ID, TOKEN_URL.
_REFERENCE_WORDS = frozenset(
    {
        "FILE",
        "FILES",
        "PATH",
        "DIR",
        "NAME",
        "REF",
        "ID",
        "URL",
        "URI",
        "ENDPOINT",
        "HEADER",
        "TTL",
        "TIMEOUT",
        "EXPIRY",
        "LENGTH",
        "TYPE",
        "ENABLED",
        "DISABLED",
        "REQUIRED",
        "POLICY",
    }
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a PEM private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("an AWS access key ID", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    # A JSON Web Token: base64url of `{"` (eyJ) twice, dot-separated, and a
    # signature (empty for alg "none").
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[\w\-]*")),
    # An HTTP Authorization value: `Bearer <token>`, or any scheme's value
    # after `Authorization:`.
    ("an HTTP bearer token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{12,}=*")),
    (
        "an HTTP Authorization header value",
        re.compile(r"(?i)\bauthorization\s*[:=]\s*[A-Za-z][\w\-]*\s+[A-Za-z0-9._~+/\-]{6,}"),
    ),
)
# scheme://user:password@host; the password may not be a $(VAR) reference,
# which Kubernetes expands from another (Secret-backed) variable. The scheme
# is matched only from the start of its run of scheme characters, and its
# first letter is the first letter there: searched from every letter of a
# long word instead, the search took time quadratic in the value's length.
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.\-])[0-9+.\-]*[A-Za-z][A-Za-z0-9+.\-]*://"
    r"[^/\s:@]*:(?P<password>[^/\s@]+)@"
)
# scheme://TOKEN@host: a user part that is a token (GitHub's and GitLab's
# clone URLs take one there): 20 or more token characters, letters and
# digits both, none of the dots and @ a user name or e-mail address has.
_URL_USER = re.compile(
    r"(?<![A-Za-z0-9+.\-])[0-9+.\-]*[A-Za-z][A-Za-z0-9+.\-]*://(?P<user>[A-Za-z0-9_~+=\-]{20,})@"
)
# ?token=... or &access_token=...: a query parameter whose name the name rule
# (credential_name) takes for a credential.
_QUERY_PARAMETER = re.compile(r"[?&](?P<name>[A-Za-z0-9_.\-]{1,64})=(?P<value>[^&#\s]+)")
_ENV_REFERENCE = re.compile(r"^\$\([A-Za-z_][A-Za-z0-9_]*\)$")
# `openssl rand -hex 24`, which the output README suggests, gives 48 of these.
_HEX_TOKEN = re.compile(r"^[0-9a-fA-F]{32,}$")
# user:password@host with no scheme. The user starts a word (not after a
# letter, `/`, `:` or `@`, so a URL's authority, a word's middle and an
# image reference's digest are not searched from every character: linear);
# `name:tag@sha256:...` is an image, not a login.
_LOGIN_PASSWORD = re.compile(
    r"(?<![\w.%+\-/:@])[\w.%+\-]+:(?P<password>[^\s/@:]+)@(?!sha[0-9]+:)[A-Za-z0-9]"
)
# Server=db;Password=pw; (ADO.NET, ODBC, JDBC properties) or ?password=pw.
_CONNECTION_PASSWORD = re.compile(
    r"(?i)(?:^|[;&?\s])(?:password|passwd|pwd)\s*=\s*(?P<password>[^;&\s]+)"
)


def _words(name: str) -> list[str]:
    return [w.upper() for w in _SEPARATORS.split(_CAMEL.sub("_", name)) if w]


def credential_name(name: str) -> bool:
    """True when a key or variable name says that it holds a credential.

    >>> names = ("AWS_SECRET_ACCESS_KEY", "apiKey", "PGPASSWORD", "DB_PASS", "MYSQL_PWD")
    >>> [credential_name(n) for n in names]
    [True, True, True, True, True]
    >>> names = ("EXTRA_PIP_PACKAGES", "PASSWORD_FILE", "TOKEN_PATH", "PWD", "TOKENIZERS_X")
    >>> [credential_name(n) for n in names]
    [False, False, False, False, False]
    """
    words = _words(name)
    if not words or words[-1] in _REFERENCE_WORDS:
        return False
    for word in words:
        if word.endswith(_ENDINGS) or word == "PASS" or (word == "PWD" and len(words) > 1):
            return True
    return any(pair in _PAIRS for pair in itertools.pairwise(words))


def harmless_credential_value(value: object) -> bool:
    """No value, a flag, an absolute file path or a ``$(VAR)`` reference: not
    the secret itself. A number is a value (``password: 48151623``)."""
    if value is None or isinstance(value, bool):
        return True
    if not isinstance(value, str):
        return False
    return value == "" or value.startswith("/") or bool(_ENV_REFERENCE.match(value))


def secret_shape(value: str) -> str | None:
    """What kind of well-known credential ``value`` contains, if any.

    >>> secret_shape("https://me:hunter2@pypi.example.com/simple")
    'a URL with a password in it'
    >>> secret_shape("https://me:$(PIP_PASSWORD)@pypi.example.com/simple") is None
    True
    >>> secret_shape("https://example.com/hook?access_token=0a1b2c3d")
    'a URL with a token in its query'
    """
    return next((description for description, _, _ in secret_spans(value)), None)


def secret_spans(value: str) -> Iterator[tuple[str, int, int]]:
    """Each credential in ``value``: what it is, and where (start, end) it is.
    The one matcher behind :func:`secret_shape` and :func:`redact`."""
    for description, pattern in _SHAPES:
        for match in pattern.finditer(value):
            yield description, match.start(), match.end()
    for description, pattern in (
        ("a URL with a password in it", _URL_PASSWORD),
        ("a login with a password in it (user:password@host)", _LOGIN_PASSWORD),
        ("a connection string with a password in it", _CONNECTION_PASSWORD),
    ):
        for match in pattern.finditer(value):
            password = match.group("password")
            # `user:password@host`, the placeholder in dkgen's own messages, is no secret.
            if not _ENV_REFERENCE.match(password) and password.lower() != "password":
                yield description, match.start("password"), match.end("password")
    for match in _URL_USER.finditer(value):
        user = match.group("user")
        if any(c.isdigit() for c in user) and any(c.isalpha() for c in user):
            yield "a URL with a token as its user", match.start("user"), match.end("user")
    for match in _QUERY_PARAMETER.finditer(value):
        if credential_name(match.group("name")) and not harmless_credential_value(
            match.group("value")
        ):
            yield "a URL with a token in its query", match.start("value"), match.end("value")


REDACTED = "<redacted>"
_MALFORMED_OVERRIDE = re.compile(r"(?P<key>[^\s:=]+)[\s:]+(?P<value>\S)")


def redact(text: str) -> str:
    """``text`` with every credential :func:`secret_spans` finds replaced by
    ``<redacted>``: what every problem dkgen prints goes through this
    (dkgen.errors.Problem.format), so no message repeats a value the
    secret rule refuses, wherever the message quotes it from.

    >>> redact("-s x=postgres://:hunter2@db/app: not a number")
    '-s x=postgres://:<redacted>@db/app: not a number'
    """
    spans = sorted((start, end) for _, start, end in secret_spans(text))
    if not spans:
        return text
    parts, position = [], 0
    for start, end in spans:
        if end <= position:
            continue
        parts += [text[position : max(start, position)], REDACTED]
        position = end
    return "".join([*parts, text[position:]])


def shown(value: object, *, name: str | None = None) -> str:
    """``value`` as a message quotes it (``repr``), or ``<redacted>`` where
    the secret rule would refuse it: a credential's shape, or any value but a
    placeholder under a ``name`` that names a credential (``API_TOKEN``)."""
    if name is not None and credential_name(name) and not harmless_credential_value(value):
        return REDACTED
    if isinstance(value, str) and (secret_shape(value) or looks_like_token(value)):
        return REDACTED
    return repr(value)


def looks_like_token(name: str) -> bool:
    """A Secret *name* (or a key) that is really a random token (a long hex string)."""
    return bool(_HEX_TOKEN.match(name))


SECRET_HINT = (
    "keep it in a Kubernetes Secret created at apply time (kubectl create secret generic NAME "
    "--from-file=KEY=/dev/stdin) and reference it by name with a patch: "
    'valueFrom: {secretKeyRef: {name: NAME, key: KEY}} (README "Secrets")'
)


def secret_problems(
    tree: Any,
    origin_of: Callable[[KeyPath], Origin] | Origin,
    *,
    at: KeyPath = (),
    settings_keys: Collection[str] = (),
) -> Iterator[Problem]:
    """Every plaintext secret in ``tree`` (rules 2 and 3 above), as problems.

    ``tree`` is plain data (settings, a patch's body, a rendered object); it
    sits at key path ``at``; ``origin_of`` places a path, or is the one
    origin of everything in ``tree`` (a patch's text has no positions inside);
    an origin that is a ``-s`` override is named with its value redacted.
    ``settings_keys``: dotted paths of dkgen's own settings, whose names are
    dkgen's (``jupyter.token_secret``), not the user's. Pure: reads nothing but its arguments.

    >>> [p.path for p in secret_problems({"env": {"PGPASSWORD": 1234}}, Origin("s.yaml"))]
    ['env.PGPASSWORD']
    """

    def problem(path: KeyPath, message: str) -> Problem:
        where = origin_of if isinstance(origin_of, Origin) else origin_of(path)
        return Problem(redacted(where, always=True), format_path(path), message, SECRET_HINT)

    def walk(node: Any, path: KeyPath) -> Iterator[Problem]:
        if isinstance(node, dict):
            if isinstance(node.get("name"), str) and "value" in node:
                # An environment variable as Kubernetes writes it: {name, value}.
                yield from named(node["name"], node["value"], (*path, "value"))
            for key, value in node.items():
                child = (*path, key)
                if isinstance(key, str):
                    shape = secret_shape(key) or ("a token" if looks_like_token(key) else None)
                    if shape:
                        yield problem(
                            path,
                            f"a key looks like {shape}; it would be written into the output "
                            "in plain text",
                        )
                    elif format_path(child) not in settings_keys:
                        yield from named(key, value, child)
                yield from walk(value, child)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, (*path, index))
        elif isinstance(node, str):
            shape = secret_shape(node)
            if shape:
                yield problem(
                    path,
                    f"the value looks like {shape}; it would be written into the output in "
                    "plain text",
                )

    def named(name: str, value: Any, path: KeyPath) -> Iterator[Problem]:
        if isinstance(value, dict | list) or harmless_credential_value(value):
            return
        if credential_name(name):
            yield problem(
                path,
                f"{name} names a credential; its value would be written into the output in "
                "plain text",
            )

    return walk(tree, at)


def redacted(origin: Origin, *, always: bool = False) -> Origin:
    """``-s KEY=VALUE`` as ``-s KEY=<redacted>`` when the secret rule refuses
    VALUE (by its shape, or because KEY names a credential); any other
    origin with its credentials redacted. Every problem's origin passes
    through here when it is printed. ``always``: the value is known to hold
    a secret (a secret problem found it inside), so it is redacted whole."""
    source = origin.source
    if source.startswith("-s ") and "=" in source:
        key, value = source[3:].split("=", 1)
        last = key.rsplit(".", 1)[-1]
        refused = credential_name(last) and not harmless_credential_value(value)
        if always or refused or secret_shape(value):
            return Origin(f"-s {key}={REDACTED}", origin.line, origin.column)
    elif source.startswith("-s "):
        # No `=`: a malformed override (`-s DB_PASSWORD:hunter2`); whatever
        # follows a credential's name may be its value.
        malformed = _MALFORMED_OVERRIDE.match(source[3:])
        if malformed and credential_name(malformed["key"].rsplit(".", 1)[-1]):
            kept = source[: 3 + malformed.start("value")]
            return Origin(f"{kept}{REDACTED}", origin.line, origin.column)
    text = redact(source)
    return origin if text == source else Origin(text, origin.line, origin.column)


SECRET_HINT = (
    "keep it in a Kubernetes Secret created at apply time (kubectl create secret generic NAME "
    "--from-file=KEY=/dev/stdin) and reference it by name with a patch: "
    'valueFrom: {secretKeyRef: {name: NAME, key: KEY}} (README "Secrets")'
)


def plaintext_secret_key(data: Mapping[str, Any], where: Origin, path: KeyPath) -> Problem:
    """An unknown key whose name says it holds a credential (``jupyter.token``),
    set at ``where`` in the settings tree ``data``."""
    hint = SECRET_HINT
    if path[0] == "jupyter":
        namespace = data.get("namespace", "dask")
        secret = (data.get("jupyter") or {}).get("token_secret", "jupyter-token")
        hint = (
            "Jupyter reads its token from the Secret named by jupyter.token_secret; create it at "
            f"apply time: kubectl --namespace {namespace} create secret generic {secret} "
            "--from-file=token=/dev/stdin"
        )
    return Problem(
        redacted(where, always=True),
        format_path(path),
        "a secret does not belong in settings: dkgen would write it into the output",
        hint,
    )
