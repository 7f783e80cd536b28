"""Rule lookup: full-text search over the SRD catalogue and one entry by kind and index."""
