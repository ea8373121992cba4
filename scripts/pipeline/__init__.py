"""The driver library: stages that take configuration objects and URIs.

Each stage reads the previous stage's output where it lies (a local
directory, ``hdfs://`` or ``s3://``) and writes its own under OUTPUT, with a
``_SUCCESS`` marker written last. Stages raise their own errors and never
print; the ``scripts/cmd_*.py`` modules parse arguments, call one stage and
print.
"""
