/**
 * A systemd unit that runs `coffer daemon` for one configuration: a user unit
 * (`~/.config/systemd/user/NAME.service`, started at login, or at boot with lingering) or a
 * system unit (`/etc/systemd/system/NAME.service`, run as the installing user). The daemon is
 * a plain foreground process that logs to stderr (the journal) and stops on SIGTERM, abandoning
 * the job in progress safely; it exits 130 then, which the unit counts as a clean stop.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import type { Env } from "./state.js";

export interface UnitOptions {
  /** Absolute path of the configuration. */
  config: string;
  /** The program: node and coffer's bin script. */
  node: string;
  coffer: string;
  user: boolean;
  /** For a system unit: run as this user (not root). */
  runAs?: { name: string; home: string };
  /** Optional file of environment variables (password sources that read the environment). */
  environmentFile?: string;
  /** Extra words after `daemon` (e.g. --port 9400). */
  daemonArgs?: string[];
}

/** The unit file's text. */
export function serviceUnit(o: UnitOptions): string {
  const exec = [o.node, o.coffer, "--config", o.config, "daemon", ...(o.daemonArgs ?? [])].map(systemdQuote).join(" ");
  const lines = [
    "# Written by coffer service install; coffer service uninstall removes it.",
    "[Unit]",
    `Description=coffer backup daemon (${escapeSpecifiers(o.config)})`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${exec}`,
    `WorkingDirectory=${systemdQuote(dirname(o.config))}`,
    ...(o.environmentFile !== undefined ? [`EnvironmentFile=-${systemdQuote(o.environmentFile)}`] : []),
    ...(!o.user && o.runAs ? [`User=${o.runAs.name}`, `Environment=${systemdQuote(`HOME=${o.runAs.home}`)}`] : []),
    "Restart=on-failure",
    "RestartSec=30s",
    "# SIGTERM: the job in progress is abandoned safely (it runs again later); the daemon exits 130.",
    "KillSignal=SIGTERM",
    "SuccessExitStatus=130",
    "TimeoutStopSec=120s",
    "Nice=10",
    "IOSchedulingClass=best-effort",
    "IOSchedulingPriority=7",
    "",
    "[Install]",
    `WantedBy=${o.user ? "default.target" : "multi-user.target"}`,
    "",
  ];
  return lines.join("\n");
}

/** Where the unit goes. */
export function unitPath(name: string, user: boolean, env: Env): string {
  if (!/^[A-Za-z0-9:_.@-]+$/.test(name)) throw new CofferError("USAGE", `"${name}" is not a usable unit name; use letters, digits, dashes, dots and underscores.`);
  if (!user) return join("/etc/systemd/system", `${name}.service`);
  const home = env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir();
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg !== undefined && xdg.startsWith("/") ? xdg : join(home, ".config"), "systemd", "user", `${name}.service`);
}

/** The commands that load and start the unit (printed, not run). */
export function enableCommands(name: string, user: boolean): string[] {
  const sc = user ? "systemctl --user" : "sudo systemctl";
  return [`${sc} daemon-reload`, `${sc} enable --now ${name}.service`, user ? `${sc} status ${name}.service; journalctl --user -u ${name}.service -f` : `${sc} status ${name}.service; journalctl -u ${name}.service -f`];
}

/** Writes the unit; refuses to replace a file coffer did not write (unless `force`). */
export async function installUnit(path: string, text: string, opts: { force?: boolean } = {}): Promise<{ replaced: boolean }> {
  let old: string | undefined;
  try {
    old = await readFile(path, "utf8");
  } catch (err) {
    if (sysCode(err) !== "ENOENT") throw ioError(err, `reading ${path}`);
  }
  if (old !== undefined && !old.includes("coffer service install") && opts.force !== true) {
    throw new CofferError("INVALID", `${path} exists and was not written by coffer; remove it first, choose another --name, or use --force.`, { path });
  }
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text, { mode: 0o644 });
  } catch (err) {
    if (sysCode(err) === "EACCES" || sysCode(err) === "EPERM") throw new CofferError("IO", `No permission to write ${path}; install a system unit as root (sudo), or a user unit with --user.`, { path }, { cause: err });
    throw ioError(err, `writing ${path}`);
  }
  return { replaced: old !== undefined };
}

/** Removes the unit; false when there was none. Refuses a file coffer did not write. */
export async function uninstallUnit(path: string): Promise<boolean> {
  let old: string;
  try {
    old = await readFile(path, "utf8");
  } catch (err) {
    if (sysCode(err) === "ENOENT") return false;
    throw ioError(err, `reading ${path}`);
  }
  if (!old.includes("coffer service install")) throw new CofferError("INVALID", `${path} was not written by coffer; remove it by hand if it should go.`, { path });
  try {
    await rm(path);
  } catch (err) {
    if (sysCode(err) === "EACCES" || sysCode(err) === "EPERM") throw new CofferError("IO", `No permission to remove ${path}; use sudo for a system unit.`, { path }, { cause: err });
    throw ioError(err, `removing ${path}`);
  }
  return true;
}

/** The user a system unit runs as: the one installing it, unless that is root. */
export function installingUser(): { name: string; home: string } | undefined {
  try {
    const u = userInfo();
    return u.uid === 0 ? undefined : { name: u.username, home: u.homedir };
  } catch {
    return undefined;
  }
}

/** systemd's quoting: a word with spaces or quotes goes in double quotes; `%` is doubled everywhere. */
export function systemdQuote(word: string): string {
  const w = escapeSpecifiers(word);
  return /[\s"'\\;$]/.test(w) || w === "" ? `"${w.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\$/g, "$$$$")}"` : w;
}

function escapeSpecifiers(s: string): string {
  return s.replace(/%/g, "%%");
}
