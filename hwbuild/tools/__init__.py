"""Commands around the build: watch, export, ci, clean, and the progress they draw."""
