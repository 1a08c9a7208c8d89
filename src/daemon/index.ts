/**
 * daemon: runs a configuration's jobs on their schedules. Pure schedule computation
 * (`nextRun`), the scheduler (due jobs, one job at a time per repository, retries, timeouts),
 * its state file (atomic, crash-safe), notifications on failure and recovery, and around them
 * the `coffer daemon` process: one per configuration, HTTP status and metrics on 127.0.0.1.
 */
export { runDaemon, type DaemonOptions } from "./daemon.js";
export type { AttemptContext, DaemonJob, JobExecutor, JobOutcome } from "./daemon-job.js";
export { daemonPaths, diskFacts, gatherFacts, type DaemonPaths, type GatheredFacts, type GatherOptions } from "./gather-facts.js";
export { evaluateHealth, formatAge, type DiskFacts, type HealthCheck, type HealthFacts, type HealthJob, type HealthReport, type HealthStatus, type HealthThresholds } from "./health.js";
export { HTTP_HOST, startHttpServer, type DaemonHttpServer, type HttpRoutes } from "./http-server.js";
export { createJobExecutor, daemonJobs, jobRepositories, type JobKindsOptions } from "./job-kinds.js";
export { retryDelay, runJob, type RunJobOptions } from "./job-runner.js";
export { createLog, type DaemonLog, type LogSink, memoryLog, silentLog } from "./log.js";
export { renderMetrics, type MetricsInput } from "./metrics.js";
export { createNotifier, jobEvent, type JobEvent, type JobEventKind, type Notify, type NotifierOptions, type NotifyTargets } from "./notify.js";
export { acquireDaemonLock, daemonAlive, readDaemonInfo, type DaemonInfo, type DaemonLock } from "./pid-lock.js";
export { openRepository, repositoryPassword, type OpenRepositoryOptions } from "./repository-access.js";
export { factsOf, probeRepository, type PendingChange, type RepositoryReport } from "./repository-facts.js";
export { ResourceQueue } from "./resource-queue.js";
export { checkCronExpression, DEFAULT_AFTER_FAILURE_MS, expectedInterval, isDue, nextRun, type NextRunOptions, type RunHistory, type ScheduleSpec } from "./schedule.js";
export { type ActiveRun, history, Scheduler, type SchedulerOptions } from "./scheduler.js";
export {
  configId,
  daemonStateDir,
  type DaemonState,
  emptyState,
  FileStateStore,
  type JobState,
  MemoryStateStore,
  type RepositoryFacts,
  type RunRecord,
  type RunResult,
  STATE_VERSION,
  stateHome,
  type StateStore,
  writeAtomic,
} from "./state.js";
export { enableCommands, installUnit, serviceUnit, uninstallUnit, unitPath, type UnitOptions } from "./service-unit.js";
export { buildStatus, type JobStatus, type RepositoryStatus, type StatusDocument, type StatusInput } from "./status.js";
export { systemTimerClock, type TimerClock } from "./timer-clock.js";
