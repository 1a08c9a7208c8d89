/**
 * The bytes of `Buffer.from(JSON.stringify(value))`, written straight into a reused buffer.
 * A backup encodes a tree for every directory; JSON.stringify built each as a string (in
 * parts, then joined) that was copied into a Buffer and dropped, a large part of the main
 * thread's garbage. Anything this writer does not know exactly how JSON.stringify writes (an
 * object that is not plain, a bigint, a cycle) falls back to JSON.stringify itself.
 */
export function jsonBytes(value: unknown): Buffer {
  pos = 0;
  inherited = false;
  for (const _ in Object.prototype) inherited = true;
  try {
    writeValue(value);
  } catch {
    return Buffer.from(JSON.stringify(value));
  }
  const out = Buffer.allocUnsafe(pos);
  buf.copy(out, 0, 0, pos);
  return out;
}

let buf = Buffer.allocUnsafe(64 * 1024);
let pos = 0;
/** Object.prototype has enumerable members (someone added one): for-in then needs an own-key check. */
let inherited = false;

/** Thrown for what JSON.stringify must write instead. */
const UNKNOWN = new Error("not plain JSON");

function ensure(n: number): void {
  if (pos + n <= buf.length) return;
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + n));
  buf.copy(next, 0, 0, pos);
  buf = next;
}

function ascii(s: string): void {
  ensure(s.length);
  const b = buf;
  let p = pos;
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
  pos = p;
}

function writeValue(v: unknown): void {
  switch (typeof v) {
    case "string":
      writeString(v);
      return;
    case "number":
      if (!Number.isFinite(v)) ascii("null");
      else if (Number.isSafeInteger(v) && v >= 0) writeInteger(v);
      else ascii(String(v));
      return;
    case "boolean":
      ascii(v ? "true" : "false");
      return;
    case "object":
      if (v === null) ascii("null");
      else if (Array.isArray(v)) writeArray(v);
      else writeObject(v);
      return;
    default:
      throw UNKNOWN; // bigint, or undefined/function/symbol at the top
  }
}

/** A safe integer >= 0, as digits (no string). */
function writeInteger(n: number): void {
  let digits = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
  ensure(digits);
  const b = buf;
  pos += digits;
  for (let at = pos - 1; digits > 0; digits--, at--) {
    const q = Math.floor(n / 10);
    b[at] = 0x30 + (n - q * 10);
    n = q;
  }
}

function writeArray(a: unknown[]): void {
  if (Object.getPrototypeOf(a) !== Array.prototype) throw UNKNOWN;
  ensure(1);
  buf[pos++] = 0x5b; // [
  for (let i = 0; i < a.length; i++) {
    if (i > 0) {
      ensure(1);
      buf[pos++] = 0x2c; // ,
    }
    const e = a[i];
    if (e === undefined || typeof e === "function" || typeof e === "symbol") ascii("null");
    else writeValue(e);
  }
  ensure(1);
  buf[pos++] = 0x5d; // ]
}

function writeObject(o: object): void {
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) throw UNKNOWN; // Date, Buffer, Map, boxed values...
  if (typeof (o as { toJSON?: unknown }).toJSON === "function") throw UNKNOWN;
  ensure(1);
  buf[pos++] = 0x7b; // {
  let first = true;
  // for-in visits own keys in JSON.stringify's order (integer keys ascending, then the others
  // as they were added), plus inherited enumerable ones: none when Object.prototype has none
  // (checked once per call), as the prototype is Object.prototype or null.
  for (const k in o) {
    if (inherited && !Object.prototype.hasOwnProperty.call(o, k)) continue;
    const v = (o as Record<string, unknown>)[k];
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
    if (!first) {
      ensure(1);
      buf[pos++] = 0x2c; // ,
    }
    first = false;
    writeString(k);
    ensure(1);
    buf[pos++] = 0x3a; // :
    writeValue(v);
  }
  ensure(1);
  buf[pos++] = 0x7d; // }
}

/** A string as JSON.stringify quotes it, in UTF-8. */
function writeString(s: string): void {
  const n = s.length;
  ensure(n + 2);
  // Locals: the module's `buf` and `pos` are not kept in registers across the loop.
  const b = buf;
  let p = pos;
  b[p++] = 0x22; // "
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) return writeStringSlow(s);
    b[p++] = c;
  }
  b[p++] = 0x22;
  pos = p;
}

/** Not plain ASCII: escapes and lone surrogates as JSON.stringify writes them, the rest as UTF-8. */
function writeStringSlow(s: string): void {
  const q = JSON.stringify(s);
  ensure(q.length * 3);
  pos += buf.write(q, pos, "utf8");
}
