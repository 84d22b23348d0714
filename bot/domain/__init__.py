"""The pure core: the assessment bank, the flow of one assessment, scoring and priorities.

Nothing in this package imports telegram, the database or the file system.
"""
