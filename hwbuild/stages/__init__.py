"""The build as five stages (plan, run, render, compile, publish), run by the pipeline, and the
data they hand on.
"""
