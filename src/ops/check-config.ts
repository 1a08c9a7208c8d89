import { parseKeyFile } from "../crypto/keyfile.js";
import { parseConfig } from "../repository/config.js";
import { sha256Hex } from "../repository/file-codec.js";
import type { Repository } from "../repository/repository.js";
import type { CheckProblem } from "./check.js";
import { findingText, isDamage } from "./check-findings.js";

/**
 * The config (read again: it still opens, and is the one the repository was opened with) and
 * every key file (named by its hash, parseable). Findings go to `report`; failures to run throw.
 */
export async function checkConfigAndKeys(repo: Repository, report: (p: CheckProblem) => void): Promise<void> {
  try {
    const raw = await repo.backend.load({ type: "config", name: "" });
    const c = parseConfig(repo.crypter.encrypted ? repo.crypter.open(raw, "the repository config") : raw);
    if (c.id !== repo.config.id) report({ kind: "config", id: "config", message: "The repository config changed while the repository was open." });
  } catch (err) {
    if (!isDamage(err)) throw err;
    report({ kind: "config", id: "config", message: `The repository config does not load: ${findingText(err)}` });
  }
  for (const id of await repo.listIds("key")) {
    try {
      const bytes = await repo.backend.load({ type: "key", name: id });
      if (sha256Hex(bytes) !== id) throw new Error("it does not match its name (hash check failed)");
      parseKeyFile(bytes, id);
    } catch (err) {
      if (!isDamage(err)) throw err;
      report({ kind: "key", id, message: `Key file ${id.slice(0, 8)} is damaged: ${findingText(err)}` });
    }
  }
}
