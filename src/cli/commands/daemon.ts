import { runDaemon } from "../../daemon/daemon.js";
import { defineCommand, InvalidArgumentError } from "../command.js";
import { loadCliConfig } from "../config-file.js";

interface DaemonOpts {
  port?: number;
  http?: boolean;
  stopGrace?: number;
}

export const daemonCommand = defineCommand<DaemonOpts>({
  name: "daemon",
  summary: "run the jobs of the configuration on their schedules (in the foreground)",
  description:
    "Run the jobs of coffer.yaml (./coffer.yaml, $XDG_CONFIG_HOME/coffer/coffer.yaml, or --config FILE) in the foreground until " +
    "SIGTERM or Ctrl-C: each when its schedule says (every D after the last success, catching up once after downtime; cron " +
    "or at times in a time zone), with its retries and timeout, never two jobs on one repository at once. It logs to stderr and " +
    "to daemon.log in its state folder ($XDG_STATE_HOME/coffer/<config id>/, with state.json and daemon.pid), notifies on " +
    "failure and recovery, and serves GET /healthz, /metrics (Prometheus) and /status (JSON) on 127.0.0.1 (port: health.port " +
    "of the configuration). One daemon per configuration: a second one refuses to start. On SIGTERM the job in progress is " +
    "abandoned safely (a backup saves no snapshot) and runs again when the daemon is back; the exit code is then 130. " +
    "Install it as a systemd service with 'coffer service install --user'.",
  examples: [
    "coffer daemon                                   # the jobs of ./coffer.yaml",
    "coffer --config /etc/coffer/app.yaml daemon",
    "coffer daemon --port 9400                       # HTTP on 127.0.0.1:9400",
    "curl -s 127.0.0.1:9312/status | jq .jobs        # while it runs",
  ],
  options: [
    { flags: "--port <port>", description: "HTTP port on 127.0.0.1 (default health.port of the configuration, 9312; 0: any free port)", parse: port },
    { flags: "--no-http", description: "serve no HTTP endpoint" },
    { flags: "--stop-grace <seconds>", description: "on SIGTERM, let the job in progress run this long before abandoning it (default 0)", parse: seconds },
  ],
  async run(ctx, _args, opts) {
    const config = await loadCliConfig(ctx);
    await runDaemon({
      config,
      env: ctx.env,
      signal: ctx.signal,
      stderr: ctx.stderr,
      ...(opts.http === false ? { port: null } : opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.stopGrace !== undefined ? { stopGraceMs: opts.stopGrace * 1000 } : {}),
    });
  },
});

function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n > 65535) throw new InvalidArgumentError("Give a port number from 0 to 65535 (0: any free port).");
  return n;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError("Give a whole number of seconds.");
  return n;
}
