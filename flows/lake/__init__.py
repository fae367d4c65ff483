"""The lake: storage, partitions, manifests, the merge, the entities, each source's state."""
