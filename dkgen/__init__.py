"""dkgen: compile layered YAML settings into a Dask-on-GKE deployment.

The library API is :func:`dkgen.compiler.compile_settings`; the command line
lives in :mod:`dkgen.cli`.
"""

__version__ = "0.1.0"
