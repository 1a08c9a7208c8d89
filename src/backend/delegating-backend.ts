import type { Backend, BackendProperties, FileInfo, FileType, Handle, LoadOptions, SaveOptions } from "./backend.js";

/**
 * A backend that hands every call to `inner`, with `inner`'s properties changed by `props`.
 * The wrappers (`LimitBackend`, `RetryBackend`) and the tests' doubles extend it and override
 * only the calls they change.
 *
 * `localRoot` is not handed on: a subclass that passes the bytes through unchanged (limit,
 * retry) adds it, so workers may read and write the directory themselves; one that injects
 * faults or watches calls must not, or those reads and writes would go around it.
 */
export class DelegatingBackend implements Backend {
  readonly #properties: BackendProperties;

  constructor(
    readonly inner: Backend,
    props: Partial<BackendProperties> = {},
  ) {
    this.#properties = { ...inner.properties, ...props };
  }

  get location(): string {
    return this.inner.location;
  }

  get properties(): BackendProperties {
    return this.#properties;
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void> {
    return this.inner.save(h, data, opts);
  }

  load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    return this.inner.load(h, opts);
  }

  stat(h: Handle): Promise<FileInfo> {
    return this.inner.stat(h);
  }

  list(type: FileType): AsyncIterable<FileInfo> {
    return this.inner.list(type);
  }

  remove(h: Handle): Promise<void> {
    return this.inner.remove(h);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  isNotFound(err: unknown): boolean {
    return this.inner.isNotFound(err);
  }

  isPermanent(err: unknown): boolean {
    return this.inner.isPermanent(err);
  }
}
