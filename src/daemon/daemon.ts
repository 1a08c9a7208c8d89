/**
 * `coffer daemon`: the process around the scheduler. In order: the state folder of the
 * configuration (`$XDG_STATE_HOME/coffer/<config id>/`, mode 0700), the pid file that keeps a
 * second daemon out, the log (the given stream, stderr, and `daemon.log` there through coffer's
 * rotating stream), the state, the HTTP endpoint on 127.0.0.1, then the scheduler until the
 * signal aborts. On the way out the job in progress is abandoned safely (its signal aborted, as
 * an interrupted command), the state saved, the server closed and the pid file removed.
 */
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { CofferConfig } from "../config/types.js";
import { PROGRAM } from "../core/version.js";
import { createRotatingStream } from "../rotate/rotating-stream.js";
import { diskFacts, daemonPaths, type DaemonPaths } from "./gather-facts.js";
import { evaluateHealth, type HealthReport } from "./health.js";
import { startHttpServer, type DaemonHttpServer } from "./http-server.js";
import { createJobExecutor, daemonJobs } from "./job-kinds.js";
import { createLog, type LogSink } from "./log.js";
import { renderMetrics } from "./metrics.js";
import { createNotifier } from "./notify.js";
import { acquireDaemonLock } from "./pid-lock.js";
import { factsOf, probeRepository, type RepositoryReport } from "./repository-facts.js";
import { Scheduler } from "./scheduler.js";
import { type Env, FileStateStore, stateHome, thisDaemon } from "./state.js";
import { buildStatus } from "./status.js";
import { systemTimerClock, type TimerClock } from "./timer-clock.js";

export interface DaemonOptions {
  config: CofferConfig;
  env: Env;
  /** Aborting it stops the daemon (SIGTERM, SIGINT). */
  signal: AbortSignal;
  /** Where log lines go besides the log file (stderr). */
  stderr?: LogSink;
  /** The HTTP port: a number (0: any free port), null: none; undefined: `health.port` of the configuration (0 there: none). */
  port?: number | null;
  /** Instead of the configuration's state folder. */
  stateDir?: string;
  clock?: TimerClock;
  /** Once the daemon runs: where it listens and keeps its files. */
  onReady?: (info: { http?: string; paths: DaemonPaths; pid: number }) => void;
  /** How often every repository is looked at, besides after each job on it. Default one hour. */
  refreshMs?: number;
  /** How long a job in progress may go on after the stop signal before it is aborted. Default 0. */
  stopGraceMs?: number;
}

export async function runDaemon(o: DaemonOptions): Promise<void> {
  const clock = o.clock ?? systemTimerClock;
  const config = o.config;
  const paths = daemonPaths(config, o.env, o.stateDir);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const startedAt = clock.now();
  const lock = await acquireDaemonLock(paths.pid, { pid: process.pid, host: hostname(), startedAt: startedAt.toISOString(), ...(config.file !== undefined ? { config: config.file } : {}) });
  const logFile = createRotatingStream(paths.log, {}, { onWarning: (w) => o.stderr?.write(`warning: daemon log: ${w.message}\n`) });
  const log = createLog([...(o.stderr ? [o.stderr] : []), logFile], () => clock.now());
  let server: DaemonHttpServer | undefined;
  const refreshStop = new AbortController();
  let refresher: Promise<void> = Promise.resolve();
  try {
    log.info(`${PROGRAM} daemon started (pid ${process.pid}) for ${config.file ?? "a configuration in memory"}; state in ${paths.dir}`);
    const jobs = daemonJobs(config);
    if (jobs.length === 0) log.warn("the configuration has no jobs; add some under jobs: (the daemon serves status and health meanwhile)");
    for (const j of jobs) log.info(`job ${j.name} (${j.what}): ${j.enabled ? (j.schedule.text ?? "") : "disabled"}`);
    const reports = new Map<string, RepositoryReport>();
    let scheduler: Scheduler | undefined;
    const refresh = async (names: readonly string[]): Promise<void> => {
      for (const name of names) {
        const rc = config.repositories[name];
        if (rc === undefined || refreshStop.signal.aborted) continue;
        const r = await probeRepository(rc, { env: o.env, now: clock.now(), signal: refreshStop.signal });
        if (!r.reachable && reports.get(name)?.reachable !== false) log.warn(`repository ${name} cannot be read: ${r.error ?? "?"}`);
        reports.set(name, r);
        await scheduler?.update((s) => void (s.repositories[name] = factsOf(r)));
      }
    };
    scheduler = await Scheduler.open({
      jobs,
      execute: createJobExecutor({ config, env: o.env, rotateStateFile: join(stateHome(o.env), "rotate-state.json") }),
      store: new FileStateStore(paths.state, { onWarning: (m) => log.warn(m) }),
      clock,
      notify: createNotifier(config.notify, { clock, log: (level, m) => log[level](m) }),
      log,
      ...(config.file !== undefined ? { config: config.file } : {}),
      ...(o.stopGraceMs !== undefined ? { stopGraceMs: o.stopGraceMs } : {}),
      onRunFinished: (job) => refresh(job.repositories),
    });
    const s = scheduler;
    await s.update((st) => void (st.daemon = thisDaemon(startedAt)));

    const health = async (): Promise<HealthReport> => {
      const repos = Object.values(config.repositories).flatMap((rc): RepositoryReport[] => {
        const r = reports.get(rc.name);
        if (r) return [r];
        const facts = s.state.repositories[rc.name];
        return facts ? [{ ...facts, name: rc.name, backend: rc.backend, offsite: rc.offsite }] : [];
      });
      return evaluateHealth({
        now: clock.now(),
        thresholds: config.health,
        jobs: Object.values(config.jobs),
        state: s.state,
        repositories: repos,
        disks: await diskFacts(config, repos, paths.dir),
        daemon: { running: true, pid: process.pid, startedAt: startedAt.toISOString() },
        logFile: paths.log,
      });
    };
    const port = o.port === undefined ? (config.health.port === 0 ? null : config.health.port) : o.port;
    if (port !== null) {
      server = await startHttpServer(
        port,
        {
          health,
          metrics: async () => renderMetrics({ jobs, state: s.state, running: s.active().map((a) => a.job), health: (await health()).status, startedAt }),
          status: async () =>
            buildStatus({
              now: clock.now(),
              ...(config.file !== undefined ? { config: config.file } : {}),
              jobs: Object.values(config.jobs),
              repositories: Object.values(config.repositories),
              sources: Object.keys(config.sources),
              state: s.state,
              reports: [...reports.values()],
              running: s.active().map((a) => a.job),
              daemon: { running: true, pid: process.pid, startedAt: startedAt.toISOString(), ...(server ? { http: server.url } : {}), stateDir: paths.dir },
              health: await health(),
            }),
        },
        (m) => log.warn(m),
      );
      await lock.update({ http: server.url });
      await s.update((st) => void (st.daemon = { ...thisDaemon(startedAt), ...(server ? { http: server.url } : {}) }));
      log.info(`status on ${server.url}/status, metrics on ${server.url}/metrics, health on ${server.url}/healthz`);
    }
    // Repository facts: now, then every refreshMs (and after each job, above).
    refresher = (async () => {
      while (!refreshStop.signal.aborted) {
        await refresh(Object.keys(config.repositories)).catch((err: Error) => log.warn(`reading the repositories: ${err.message}`));
        await clock.sleep(o.refreshMs ?? 3_600_000, refreshStop.signal);
      }
    })();
    o.onReady?.({ ...(server ? { http: server.url } : {}), paths, pid: process.pid });
    await s.run(o.signal);
    await s.update((st) => void (st.daemon = { ...thisDaemon(startedAt), stoppedAt: clock.now().toISOString() }));
    log.info("daemon stopped");
  } catch (err) {
    log.error(`daemon: ${(err as Error).message}`);
    throw err;
  } finally {
    refreshStop.abort();
    await refresher;
    await server?.close();
    await lock.release();
    await new Promise<void>((resolve) => logFile.end(() => resolve()));
  }
}
