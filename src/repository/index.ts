/**
 * repository: the format on top of a backend: config and keys, packs of sealed blobs, the
 * index of where each blob is, locks, and verified loading of all of it.
 */
export * from "./blob.js";
export * from "./compression.js";
export * from "./config.js";
export * from "./file-codec.js";
export * from "./index-file.js";
export * from "./lock.js";
export * from "./master-index.js";
export * from "./pack.js";
export * from "./pack-saver.js";
export * from "./repository.js";
