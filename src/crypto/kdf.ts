import { scrypt } from "node:crypto";

/** scrypt parameters, stored in each key file. */
export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

/** ~64 MiB and a fraction of a second: the cost of opening a repository, paid once. */
export const DEFAULT_KDF: KdfParams = { N: 1 << 16, r: 8, p: 1 };

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
