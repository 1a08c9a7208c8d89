import { test } from "node:test";
import assert from "node:assert/strict";
import { isCofferError } from "../../src/core/errors.js";
import { parseLogrotateConfig } from "../../src/rotate/logrotate-config.js";
import { resolveRule } from "../../src/rotate/rule.js";

const CONF = `# global settings, inherited by the blocks below
weekly 0
su root adm
rotate 4
create
include /etc/logrotate.d

/var/log/nginx/*.log "/var/log/with space.log" {
    daily
    missingok
    rotate 14
    compress
    delaycompress
    notifempty
    create 0640 root root
    sharedscripts
    prerotate
        echo not run
    endscript
    postrotate
        invoke-rc.d nginx rotate >/dev/null 2>&1
    endscript
}

/var/log/app.log
{
    size = 100k
    maxsize 1M
    minsize 10k
    dateext
    dateformat -%Y-%m-%d-%s
    olddir /var/log/old
    copytruncate
    maxage 30
    compresscmd /usr/bin/zstd
    compressext .zst
    compress
    mail ops@example.com
    frobnicate yes
}
`;

test("a logrotate configuration becomes complete coffer rules; globals are inherited", () => {
  const { rules } = parseLogrotateConfig(CONF, "/etc/logrotate.conf");
  assert.equal(rules.length, 2);
  const [nginx, app] = rules;
  assert.deepEqual(nginx?.files, ["/var/log/nginx/*.log", "/var/log/with space.log"]);
  assert.equal(nginx?.interval, "daily");
  assert.equal(nginx?.archiveKeep, 14);
  assert.equal(nginx?.compress, "gzip");
  assert.equal(nginx?.delayCompress, true);
  assert.equal(nginx?.ifEmpty, false);
  assert.equal(nginx?.missingOk, true);
  assert.deepEqual([nginx?.mode, nginx?.createMode, nginx?.createOwner, nginx?.createGroup], ["create", "0640", "root", "root"]);
  assert.equal(nginx?.sharedScripts, true);
  assert.equal(nginx?.postRotate, "        invoke-rc.d nginx rotate >/dev/null 2>&1");
  assert.equal(nginx?.naming, "numbered");
  assert.equal(nginx?.maintain, "on-rotation");
  // The second block inherits `rotate 4` and `create` from the globals, and overrides the rest.
  assert.equal(app?.archiveKeep, 4);
  // `size` replaces the inherited `weekly` (the last trigger given wins, as in logrotate).
  assert.deepEqual([app?.size, app?.interval, app?.maxSize, app?.minSize], [100 * 1024, null, 1024 * 1024, 10 * 1024]);
  assert.deepEqual([app?.naming, app?.dateFormat, app?.archiveDir, app?.mode, app?.archiveMaxAge, app?.compress], ["date", "-%Y-%m-%d-%s", "/var/log/old", "copytruncate", "720h", "zstd"]);
  for (const r of rules) resolveRule(r);
});

const lineOf = (text: string): number => CONF.split("\n").findIndex((l) => l.trim() === text) + 1;

test("every directive that is not applied is named in a warning, with its line", () => {
  const { warnings } = parseLogrotateConfig(CONF, "/etc/logrotate.conf");
  assert.ok(warnings.every((w) => w.code === "UNSUPPORTED_DIRECTIVE"));
  assert.deepEqual(
    warnings.map((w) => w.message.replace(/ \(.*\); it is ignored\.$/, "")),
    ["weekly 0", "su root adm", "include /etc/logrotate.d", "prerotate", "mail ops@example.com", "frobnicate yes"].map((d) => `/etc/logrotate.conf:${lineOf(d)}: "${d}" is not supported`),
  );
});

test("broken configurations are INVALID with the line", () => {
  for (const [text, re] of [
    ["/a.log {\n daily\n", /not closed/],
    ["/a.log {\n postrotate\n  echo\n}\n", /endscript/],
    ["/a.log {\n rotate many\n}\n", /:2: "rotate many" needs a whole number/],
    ["/a.log {\n size\n}\n", /"size" needs a value/],
  ] as const) {
    assert.throws(() => parseLogrotateConfig(text, "x.conf"), (e: unknown) => isCofferError(e, "INVALID") && re.test(e.message), text);
  }
});
