"""A precompiled preamble: the document's preamble dumped into a TeX format, cached by its key.

A compile with the format skips executing the preamble and produces the **same PDF bytes** as a
plain compile of the same document (timings in docs/benchmarks.md). One module a job:
:mod:`~hwbuild.tex.preamble.split` (where the preamble ends), :mod:`~hwbuild.tex.preamble.key`
(the cache key, computed once per compile), :mod:`~hwbuild.tex.preamble.dump` (the ini-mode
run of the shipped ``driver.ltx``), :mod:`~hwbuild.tex.preamble.verify` (inputs unchanged, same
PDF), :mod:`~hwbuild.tex.preamble.store` (formats on disk) and
:mod:`~hwbuild.tex.preamble.policy` (when to use one, when to dump one).

Per compile of a target (``homework.tex`` in ``build/homework/``), :mod:`hwbuild.tex.latexmk`::

    key = document_key(workdir, "homework.tex", engine="pdflatex", env=env)
    fmt = usable_format(FormatCache(build/cache/preamble), key, workdir)
    latexmk ... *latexmk_engine_option("pdflatex", fmt.fmt) homework.tex   # when fmt
    precompile_when_due(cache, key, workdir, "homework.tex", pdf, ...)    # otherwise

A preamble error is reported by the plain compile (a new preamble has no format yet), so errors
keep their template locations.
"""
