// The exporter's version alone (no TF.js): the inference path reads it for the backbone cache key.

/** Bumped whenever the exporter writes a different graph for the same model (part of the backbone cache key). */
export const ONNX_EXPORTER_VERSION = 1;
