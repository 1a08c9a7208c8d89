/**
 * crypto: the master key and its key files (scrypt), and the AEAD that seals every stored
 * object (AES-256-GCM), or plaintext in mode `none`.
 */
export * from "./aead.js";
export * from "./kdf.js";
export * from "./keyfile.js";
