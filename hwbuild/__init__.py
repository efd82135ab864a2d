"""hwbuild: homework as code. Experiments compute, templates explain, latexmk compiles."""

__version__ = "0.2.0"
