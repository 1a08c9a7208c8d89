import { PROGRAM, VERSION } from "../../core/version.js";
import { defineCommand } from "../command.js";
import { printJson, printLine } from "../output.js";

export const versionCommand = defineCommand({
  name: "version",
  summary: "print the version of coffer",
  description: "Print the version of coffer, and with --json the Node.js version and platform as well.",
  examples: ["coffer version", "coffer version --json"],
  run(ctx) {
    if (ctx.options.json) {
      printJson(ctx, { program: PROGRAM, version: VERSION, node: process.version, platform: process.platform, arch: process.arch });
    } else {
      printLine(ctx, PROGRAM);
    }
  },
});
