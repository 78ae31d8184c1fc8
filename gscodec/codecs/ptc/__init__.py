"""Post-training compression of a trained 3DGS scene (GSCodec Studio section IV-D, extended)."""
