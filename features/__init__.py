"""Pure per-record functions (parsing, text analysis, graph keys).

Task-side code: runs on the driver's Python and on Python 3.9 (EMR 7 nodes),
with no import of mrjob, so tests call it directly.
"""
