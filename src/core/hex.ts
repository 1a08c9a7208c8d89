/** Ids are SHA-256 or HMAC-SHA256 values, written as 64 lower-case hex digits. */
export const ID_BYTES = 32;
export const ID_HEX = 64;

export function isIdHex(s: string): boolean {
  return s.length === ID_HEX && /^[0-9a-f]+$/.test(s);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function fromHex(s: string): Buffer {
  return Buffer.from(s, "hex");
}

/** The short form shown to people, as restic does. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
