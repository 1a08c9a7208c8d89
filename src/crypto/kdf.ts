import { pbkdf2Sync, scrypt } from "node:crypto";
import { availableParallelism } from "node:os";
import { loadAddon } from "../core/native-addon.js";

/** scrypt parameters, stored in each key file. */
export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

/**
 * A fraction of a second and 32 MiB: the cost of opening a repository, paid by every command
 * before anything else can start. One of OWASP's equivalent scrypt settings (N = 2^14, r = 8,
 * p = 5: 16 MiB per lane). Its five lanes are independent, so the addon works on two at once
 * (`deriveInLanes`), in 32 MiB: about half the time of N = 2^15, p = 3 (the default until
 * this one, whose 32 MiB lanes go one at a time) for the same memory. Key files keep their
 * own parameters, so older keys still open.
 */
export const DEFAULT_KDF: KdfParams = { N: 1 << 14, r: 8, p: 5 };

/** Cheap parameters for tests (COFFER_TEST_KDF=1); never for real repositories. */
export const TEST_KDF: KdfParams = { N: 1 << 10, r: 8, p: 1 };

/**
 * The memory the lanes worked on at once may hold together: as many run in parallel as fit
 * (each holds 128 * r * N bytes), at most one per core. A key whose lanes do not fit two at a
 * time is derived by Node's scrypt, one lane after another, in the memory of one.
 */
const LANES_MEMORY = 32 * 1024 * 1024;

type ScryptLanes = (blocks: Buffer, N: number, r: number, p: number, threads: number) => Promise<void>;

/** The 32-byte key scrypt derives from a password and salt. */
export function deriveKey(password: string, salt: Uint8Array, params: KdfParams): Promise<Buffer> {
  const pw = password.normalize("NFC");
  const threads = laneThreads(params);
  const lanes = threads > 1 ? (loadAddon()?.["scryptLanes"] as ScryptLanes | undefined) : undefined;
  if (lanes) return deriveInLanes(lanes, threads, pw, salt, params);
  return new Promise((resolve, reject) => {
    const maxmem = 256 * params.N * params.r * params.p + (1 << 20);
    scrypt(pw, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * scrypt as RFC 7914 writes it (PBKDF2, ROMix on each lane, PBKDF2), with the lanes' ROMix,
 * the memory-hard part, worked on by the addon `threads` at a time instead of one after
 * another: the same key (the tests compare it with Node's).
 */
async function deriveInLanes(lanes: ScryptLanes, threads: number, pw: string, salt: Uint8Array, params: KdfParams): Promise<Buffer> {
  const blocks = pbkdf2Sync(pw, salt, 1, params.p * 128 * params.r, "sha256");
  await lanes(blocks, params.N, params.r, params.p, threads);
  return pbkdf2Sync(pw, blocks, 1, 32, "sha256");
}

/** How many lanes to work on at once: at most p, one per core, and as many as LANES_MEMORY holds. */
export function laneThreads(params: KdfParams): number {
  const { N, r, p } = params;
  const valid = Number.isSafeInteger(N) && N >= 2 && Math.log2(N) % 1 === 0 && Number.isSafeInteger(r) && r >= 1 && Number.isSafeInteger(p) && p >= 1;
  if (!valid) return 1; // Node's scrypt says what is wrong
  return Math.max(1, Math.min(p, availableParallelism(), Math.floor(LANES_MEMORY / (128 * r * N))));
}
