"""The command line: click commands, options read once into settings, the one error boundary."""
