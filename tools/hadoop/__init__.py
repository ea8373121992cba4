"""Local Hadoop: fetched jars, the `hadoop` launcher, a pseudo-distributed cluster."""
