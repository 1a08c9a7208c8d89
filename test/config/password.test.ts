import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describePasswordSource, maskUrl, resolvePasswordSource } from "../../src/config/index.js";
import { isCofferError } from "../../src/core/errors.js";

test("password sources: env, file (one newline and a BOM dropped), command (through the shell), value; failures never show a password", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-pw-"));
  try {
    const where = "repository offsite";
    assert.equal(await resolvePasswordSource({ env: "PW" }, { env: { PW: "from env" }, where }), "from env");
    await writeFile(join(dir, "pw"), "\uFEFF spaced secret \r\n");
    assert.equal(await resolvePasswordSource({ file: join(dir, "pw") }, { where }), " spaced secret ");
    assert.equal(await resolvePasswordSource({ command: "printf 'cmd-secret\\n'" }, { env: { PATH: process.env.PATH } }), "cmd-secret");
    assert.equal(await resolvePasswordSource({ value: "plain" }), "plain");

    await assert.rejects(resolvePasswordSource({ env: "NOPE" }, { env: {}, where }), (e) => isCofferError(e, "NO_PASSWORD") && /repository offsite comes from the environment variable NOPE, which is not set/.test(e.message));
    await assert.rejects(resolvePasswordSource({ file: join(dir, "missing") }, { where }), /password file of repository offsite, .*missing, does not exist/);
    await writeFile(join(dir, "empty"), "\n");
    await assert.rejects(resolvePasswordSource({ file: join(dir, "empty") }, { where }), /is empty/);
    await assert.rejects(resolvePasswordSource({ command: "printf 'leaked-''secret'; exit 4" }, { where, env: { PATH: process.env.PATH } }), (e) => {
      return isCofferError(e, "NO_PASSWORD") && /failed \(exit status 4\)/.test(e.message) && !e.message.includes("leaked-secret") && !JSON.stringify(e.data).includes("leaked-secret");
    });
    assert.equal(describePasswordSource({ value: "plain" }), "written in the configuration");
    assert.equal(describePasswordSource({ env: "PW" }), "environment variable PW");
    assert.equal(maskUrl("rest:https://u:p4ss@host:8000/r?x=1&api_key=k3y"), "rest:https://u:********@host:8000/r?x=1&api_key=********");
    assert.equal(maskUrl("s3:https://s3.example.com/bucket"), "s3:https://s3.example.com/bucket");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
