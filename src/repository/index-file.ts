import { CofferError } from "../core/errors.js";
import type { BlobEntry } from "./blob.js";
import { decodeHeader, HEADER_ENTRY } from "./pack.js";

/**
 * An index file (`index/<id>`): the packs a writer produced and the blobs in each, with the
 * same fields as pack headers, plus the index files it supersedes (after prune or repair).
 */
const HEX64 = /^[0-9a-f]{64}$/;

export interface IndexFileJson {
  version: 1;
  supersedes: string[];
  packs: { id: string; blobs: { id: string; type: "data" | "tree"; offset: number; length: number; raw_length: number; compressed: boolean }[] }[];
}

export function buildIndexFile(packs: ReadonlyMap<string, readonly BlobEntry[]> | [string, readonly BlobEntry[]][], supersedes: string[] = []): IndexFileJson {
  const list: [string, readonly BlobEntry[]][] = packs instanceof Map ? [...packs.entries()] : (packs as [string, readonly BlobEntry[]][]);
  return {
    version: 1,
    supersedes,
    packs: list.map(([id, blobs]) => ({
      id,
      blobs: blobs.map((b) => ({ id: b.id.toString("hex"), type: b.type, offset: b.offset, length: b.length, raw_length: b.rawLength, compressed: b.compressed })),
    })),
  };
}

/**
 * The JSON text of `buildIndexFile` for packs given with their header entries as encoded in
 * the pack (pack.ts: 46 bytes each), written without an object per blob: the same text
 * `JSON.stringify(buildIndexFile(...))` gives, which the tests check. A backup's index file
 * lists some 20,000 trees, and their objects were the main thread's largest allocation at its
 * end. The headers must be valid (checkHeader).
 */
export function indexFileText(packs: readonly (readonly [string, Uint8Array])[], supersedes: string[] = []): string {
  let out = `{"version":1,"supersedes":${JSON.stringify(supersedes)},"packs":[`;
  packs.forEach(([id, header], k) => {
    if (!HEX64.test(id)) throw new CofferError("INVALID", `${JSON.stringify(id)} is not a pack id; this is a bug in coffer.`);
    out += `${k ? "," : ""}{"id":"${id}","blobs":[`;
    const b = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
    for (let o = 0; o < b.length; o += HEADER_ENTRY) {
      out +=
        `${o ? "," : ""}{"id":"${b.toString("hex", o + 2, o + 34)}","type":"${b[o] === 1 ? "tree" : "data"}",` +
        `"offset":${b.readUInt32LE(o + 34)},"length":${b.readUInt32LE(o + 38)},"raw_length":${b.readUInt32LE(o + 42)},"compressed":${((b[o + 1] ?? 0) & 1) === 1}}`;
    }
    out += "]}";
  });
  return `${out}]}`;
}

/**
 * An index file's packs with their blobs encoded as the pack headers encode them (pack.ts,
 * 46 bytes each), without an object per blob: what MasterIndex.addEncoded takes and what
 * `check`'s workers pass to the main thread. Throws CofferError UNSUPPORTED for another
 * version and CORRUPT for anything else that is not a valid index (offsets and lengths must
 * fit the header's 32 bits).
 */
export function readIndexFileEncoded(json: unknown, fileId: string): { packs: [string, Buffer][]; supersedes: string[] } {
  const j = json as IndexFileJson;
  if (j && typeof j.version === "number" && j.version !== 1) {
    throw new CofferError("UNSUPPORTED", `Index file ${fileId.slice(0, 8)} has format version ${j.version}; upgrade coffer to read it.`, { index: fileId });
  }
  const bad = (): CofferError => new CofferError("CORRUPT", `Index file ${fileId.slice(0, 8)} is not a valid index.`, { index: fileId });
  if (!j || j.version !== 1 || !Array.isArray(j.packs)) throw bad();
  const u32 = (n: unknown, min: number): n is number => Number.isInteger(n) && (n as number) >= min && (n as number) <= 0xffffffff;
  const packs: [string, Buffer][] = [];
  for (const p of j.packs) {
    if (!p || !HEX64.test(p.id) || !Array.isArray(p.blobs)) throw bad();
    const b = Buffer.allocUnsafe(p.blobs.length * HEADER_ENTRY);
    let o = 0;
    for (const e of p.blobs) {
      if (!e || !HEX64.test(e.id) || (e.type !== "data" && e.type !== "tree") || !u32(e.offset, 0) || !u32(e.length, 1) || !u32(e.raw_length, 0)) throw bad();
      b[o] = e.type === "tree" ? 1 : 0;
      b[o + 1] = e.compressed ? 1 : 0;
      b.write(e.id, o + 2, 32, "hex");
      b.writeUInt32LE(e.offset, o + 34);
      b.writeUInt32LE(e.length, o + 38);
      b.writeUInt32LE(e.raw_length, o + 42);
      o += HEADER_ENTRY;
    }
    packs.push([p.id, b]);
  }
  return { supersedes: Array.isArray(j.supersedes) ? j.supersedes : [], packs };
}

/** readIndexFileEncoded, with an object per blob (prune's plans compare them). */
export function readIndexFile(json: unknown, fileId: string): { packs: [string, BlobEntry[]][]; supersedes: string[] } {
  const { packs, supersedes } = readIndexFileEncoded(json, fileId);
  return { supersedes, packs: packs.map(([id, encoded]) => [id, decodeHeader(encoded, `index ${fileId.slice(0, 8)}`)]) };
}
