"""Running experiments: tasks, executors, what an experiment reads and writes, the context it
receives.
"""
