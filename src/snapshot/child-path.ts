/** The path of `name` inside `dir`, as bytes (names need not be UTF-8); "/" takes no extra slash. */
export function childPath(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 1 && dir[0] === 0x2f) return Buffer.concat([dir, name]);
  const out = Buffer.allocUnsafe(dir.length + 1 + name.length);
  dir.copy(out, 0);
  out[dir.length] = 0x2f;
  name.copy(out, dir.length + 1);
  return out;
}
