// A RotateFs whose calls can be made to fail or to do something first (replace a file in the
// middle of a rotation, fill the disk in the middle of a write), for the fault tests.
import type { FileHandle } from "node:fs/promises";
import { nodeRotateFs, type RotateFs } from "../../src/rotate/rotate-fs.js";

export type FsHook = (args: unknown[]) => Promise<void> | void;

export interface FaultHooks {
  /** Runs before the named call; throw to fail it. */
  before?: Partial<Record<keyof RotateFs, FsHook>>;
  /** Runs before each write on a handle opened for `path`; throw to fail it. */
  beforeWrite?: (path: string, bytes: number) => Promise<void> | void;
  /** Runs before each read on a handle opened for `path`. */
  beforeRead?: (path: string) => Promise<void> | void;
}

export function sysError(code: string, syscall = "write"): NodeJS.ErrnoException {
  const err = new Error(`${code}: injected fault, ${syscall}`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  return err;
}

export function faultyFs(hooks: FaultHooks, base: RotateFs = nodeRotateFs): RotateFs {
  const wrapped = {} as Record<string, unknown>;
  for (const key of Object.keys(base) as (keyof RotateFs)[]) {
    const fn = base[key] as (...a: unknown[]) => Promise<unknown>;
    wrapped[key] = async (...args: unknown[]) => {
      await hooks.before?.[key]?.(args);
      const res = await fn(...args);
      if (key === "open") return wrapHandle(res as FileHandle, String(args[0]), hooks);
      return res;
    };
  }
  return wrapped as unknown as RotateFs;
}

function wrapHandle(fh: FileHandle, path: string, hooks: FaultHooks): FileHandle {
  return new Proxy(fh, {
    get(target, key) {
      if (key === "write" && hooks.beforeWrite) {
        return async (...args: unknown[]) => {
          const b = args[0] as Buffer | string;
          await hooks.beforeWrite?.(path, typeof b === "string" ? Buffer.byteLength(b) : b.length);
          return (target.write as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      if (key === "read" && hooks.beforeRead) {
        return async (...args: unknown[]) => {
          await hooks.beforeRead?.(path);
          return (target.read as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
