/**
 * chunker: content-defined chunking (FastCDC, normalized level 2, 32-bit gear hash) that splits
 * file content into data blobs whose boundaries follow the content, so an insert or delete only
 * changes the chunks around it and the rest deduplicate. The gear table comes from the
 * repository's 64-bit chunker seed. Depends only on core.
 */
export { gearTable } from "./gear.js";
export { FastCdc, DEFAULT_CHUNKER, chunkLengths } from "./fastcdc.js";
export type { ChunkerParams } from "./fastcdc.js";
