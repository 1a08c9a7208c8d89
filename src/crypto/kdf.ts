import { scrypt } from "node:crypto";

/** scrypt parameters, stored in each key file. */
export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

/**
 * A fraction of a second and 32 MiB: the cost of opening a repository, paid once. One of
 * OWASP's equivalent scrypt settings (N = 2^15, r = 8, p = 3). It takes about as long as
 * N = 2^16, p = 1 (the default until 2026-11) with half its memory, which counted in the
 * peak resident size of every command; key files keep their own parameters, so older keys
 * still open.
 */
export const DEFAULT_KDF: KdfParams = { N: 1 << 15, r: 8, p: 3 };

/** Cheap parameters for tests (COFFER_TEST_KDF=1); never for real repositories. */
export const TEST_KDF: KdfParams = { N: 1 << 10, r: 8, p: 1 };

export function deriveKey(password: string, salt: Uint8Array, params: KdfParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const maxmem = 256 * params.N * params.r * params.p + (1 << 20);
    scrypt(password.normalize("NFC"), salt, 32, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}
