"""The Dask configuration shared by scheduler, workers and Jupyter, as a ConfigMap.

Only when ``dask_config`` is set. Each pod mounts it read-only and points
``DASK_CONFIG`` at it (:func:`dkgen.render.common.dask_config_env`); the
content hash on each pod template (:mod:`dkgen.render.rollout`) rolls the
pods when it changes, since Dask reads its configuration only at start.
Keys are sorted, so the same configuration is the same bytes however the
layers were ordered.
"""

from __future__ import annotations

import re

import yaml
from yaml.emitter import ScalarAnalysis

from dkgen.render.common import DASK_CONFIG_FILE, DASK_CONFIG_MAP, KubeObject, metadata
from dkgen.settings import Settings

# A scalar of letters and digits only: no indicator, space, line break or
# special character, so PyYAML's emitter allows it every style and writes it
# as it is. Its pure-Python emitter finds that out one character at a time
# (about 0.7 s of CPU for a 1 MiB value); a regular expression says it at once.
_WORD = re.compile(r"[0-9A-Za-z]+")


class _Dumper(yaml.SafeDumper):
    """``yaml.safe_dump``'s dumper, the same bytes (tests/test_yaml_text.py),
    linear at C speed for long words (a value at the 1 MiB input limit)."""

    def analyze_scalar(self, scalar: str) -> ScalarAnalysis:
        if _WORD.fullmatch(scalar):
            return ScalarAnalysis(
                scalar=scalar,
                empty=False,
                multiline=False,
                allow_flow_plain=True,
                allow_block_plain=True,
                allow_single_quoted=True,
                allow_double_quoted=True,
                allow_block=True,
            )
        return super().analyze_scalar(scalar)

    def write_plain(self, text: str, split: bool = True) -> None:
        if self.encoding or not _WORD.fullmatch(text):
            super().write_plain(text, split)
            return
        # What write_plain does for a text without spaces or line breaks:
        # one separating space where needed, then the text in one piece.
        if self.root_context:
            self.open_ended = True
        if not self.whitespace:
            self.column += 1
            self.stream.write(" ")
        self.whitespace = False
        self.indention = False
        self.column += len(text)
        self.stream.write(text)


def dump_dask_config(config: object) -> str:
    """The YAML text of the ConfigMap: ``yaml.safe_dump``'s, keys sorted."""
    text: str = yaml.dump(
        config, Dumper=_Dumper, default_flow_style=False, sort_keys=True, allow_unicode=True
    )
    return text


def render_dask_config(settings: Settings) -> list[KubeObject]:
    if not settings.dask_config:
        return []
    text = dump_dask_config(settings.dask_config)
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(DASK_CONFIG_MAP, "config"),
            "data": {DASK_CONFIG_FILE: text},
        }
    ]
