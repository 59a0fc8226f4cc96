"""Translation beyond one process: an exported folder on a Ray cluster
(evo_mt.runtime.cluster.ray_translation). Ray is the optional `cluster` extra, imported
only when a translation runs on it."""
