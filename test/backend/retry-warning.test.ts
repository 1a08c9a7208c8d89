import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errorReason, retryWarning } from "../../src/backend/retry-warning.js";
import { CofferError } from "../../src/core/errors.js";

describe("retryWarning", () => {
  it("gives the short reason of each driver's errors: system code, HTTP status and S3 code, else the first sentence", () => {
    assert.equal(errorReason(new CofferError("BACKEND", "Cannot reach the REST server.", { errno: "ECONNREFUSED" })), "ECONNREFUSED");
    assert.equal(errorReason(new CofferError("BACKEND", "Cannot reach the S3 server.", { sys: "ECONNRESET", status: 500 })), "ECONNRESET");
    assert.equal(errorReason(new CofferError("BACKEND", "The S3 server failed.", { status: 503, s3: "SlowDown" })), "HTTP 503 SlowDown");
    assert.equal(errorReason(new CofferError("BACKEND", "GET /x failed with HTTP 502.", { status: 502 })), "HTTP 502");
    assert.equal(errorReason(new CofferError("BACKEND", "The SSH connection broke.\nmore")), "The SSH connection broke");
    assert.equal(errorReason(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })), "ECONNRESET");
    assert.equal(errorReason(new Error("x".repeat(300))).length, 121);
  });

  it("names the target, the wait and the attempts", () => {
    const w = retryWarning({ op: "load", handle: { type: "snapshot", name: "ab".repeat(32) }, attempt: 1, attempts: 10, delayMs: 12_400, error: new Error("boom") }, "rest:http://h/r");
    assert.deepEqual(w, { code: "RETRY", message: "rest:http://h/r: load snapshots/ababababab… failed (boom); retrying in 12 s (attempt 2 of 10)" });
    const c = retryWarning({ op: "create", attempt: 3, attempts: 4, delayMs: 250, error: new Error("boom") }, "sftp:h:/r");
    assert.equal(c.message, "sftp:h:/r: create failed (boom); retrying in 0.3 s (attempt 4 of 4)");
  });
});
