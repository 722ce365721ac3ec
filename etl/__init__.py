"""csc-pipeline: the library behind the DAGs and the ``csc-pipeline`` command."""

__version__ = "0.1.0"
