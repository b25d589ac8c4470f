"""jsonschema, imported without the optional format-checker packages.

jsonschema imports every optional ``format`` checker library it finds at
import time. dkgen checks no ``format`` keyword (shapes are patterns in the
schema), yet in an environment that also holds Jupyter those libraries are
installed, and one of them (rfc3987_syntax) builds a parser grammar on import:
measured at 1.2 s, fifteen times the whole of ``kubectl kustomize`` on our
output. Marking them unavailable while jsonschema loads skips that cost; the
marks are removed afterwards, so other code in the process can still import them.

:data:`SettingsValidator` is the validator dkgen checks settings with:
Draft 2020-12, except that a whole-number float (``3.0``) is not an integer.
"""

from __future__ import annotations

import sys
from typing import Any

# The optional imports of jsonschema._format (jsonschema 4.x).
_FORMAT_CHECKER_MODULES = (
    "fqdn",
    "idna",
    "isoduration",
    "jsonpointer",
    "rfc3339_validator",
    "rfc3986_validator",
    "rfc3987",
    "rfc3987_syntax",
    "uri_template",
    "webcolors",
)

_blocked = [name for name in _FORMAT_CHECKER_MODULES if name not in sys.modules]
for _name in _blocked:
    sys.modules[_name] = None  # type: ignore[assignment]  # None makes `import name` fail
try:
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import ValidationError
finally:
    for _name in _blocked:
        if sys.modules.get(_name, 0) is None:
            del sys.modules[_name]


def _is_integer(checker: Any, instance: Any) -> bool:
    # Draft 2020-12 counts 3.0 as an integer, but gcloud refuses
    # `--num-nodes 3.0` and Dask `tcp://host:8786.0`: a setting the schema
    # types as an integer must be written as one (`3`, not `3.0` or `1e3`).
    return isinstance(instance, int) and not isinstance(instance, bool)


# Draft 2020-12 with that one difference; schema_fast's predicate agrees.
SettingsValidator: Any = validators.extend(  # type: ignore[no-untyped-call]  # jsonschema leaves extend untyped
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)

__all__ = ["Draft202012Validator", "SettingsValidator", "ValidationError"]
