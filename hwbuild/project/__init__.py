"""A project: its configuration, its layout of paths, its problems, and the files that start one."""
