"""TeX: latexmk and the engines, what they read, their failures, the precompiled preamble."""
