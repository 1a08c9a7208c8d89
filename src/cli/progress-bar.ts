/**
 * A one-line progress display on stderr for a terminal: elapsed time, phase, files, bytes,
 * rate (averaged over the last few seconds) and ETA when totals are known, then the current
 * item cut to fit. Redrawn at most 10 times a second from `update` calls; it sets no timer,
 * so it never keeps the process alive and a silent operation shows a still line.
 *
 * Written by hand rather than with a progress-bar library: it is one line of text, and the
 * context must be able to hide it around other stderr writes (see `hide`/`show`).
 */
import type { Progress, ProgressState } from "../core/progress.js";
import { systemClock, type Clock } from "../core/clock.js";
import { formatBytes, formatDuration, formatRate, truncateStart } from "./format.js";

export interface ProgressBarOptions {
  /** Raw stderr: the bar's own writes must not go through a writer that hides the bar. */
  write: (s: string) => void;
  /** False when stderr is not a terminal, or with --json, --quiet or --no-progress. */
  enabled: boolean;
  clock?: Clock;
  /** Terminal width; the line is cut to fit so it never wraps. Default 80. */
  columns?: () => number | undefined;
  /** Default 100 (10 redraws a second). */
  minIntervalMs?: number;
  /** The rate is the average over this window. Default 5000. */
  rateWindowMs?: number;
}

export interface ProgressBar extends Progress {
  /** Erases the line so another message can be written cleanly. */
  hide(): void;
  /** Draws the last line again after `hide`. */
  show(): void;
}

interface Sample {
  t: number;
  bytes: number;
}

const CLEAR_LINE = "\r\x1b[K";

export function createProgressBar(opts: ProgressBarOptions): ProgressBar {
  if (!opts.enabled) return { update() {}, done() {}, hide() {}, show() {} };
  const clock = opts.clock ?? systemClock;
  const minInterval = opts.minIntervalMs ?? 100;
  const window = opts.rateWindowMs ?? 5000;
  const start = clock().getTime();
  let state: ProgressState | undefined;
  let samples: Sample[] = [];
  let lastDraw = -Infinity;
  let line = "";
  let visible = false;
  let finished = false;

  const draw = (now: number): void => {
    if (state === undefined) return;
    lastDraw = now;
    const width = Math.max(20, (opts.columns?.() ?? 80) - 1);
    line = renderLine(state, now - start, rateOf(samples), width);
    opts.write(`\r${line}\x1b[K`);
    visible = true;
  };

  return {
    update(next) {
      if (finished) return;
      const now = clock().getTime();
      if (state !== undefined && state.phase !== next.phase) samples = [];
      state = next;
      if (next.bytesDone !== undefined) {
        // One sample per 100 ms slot bounds memory however often update is called.
        const last = samples[samples.length - 1];
        if (samples.length > 1 && last !== undefined && Math.floor(last.t / 100) === Math.floor(now / 100)) {
          last.t = now;
          last.bytes = next.bytesDone;
        } else {
          samples.push({ t: now, bytes: next.bytesDone });
        }
        // Keep one sample older than the window as the base of the average.
        while (samples.length > 2 && (samples[1]?.t ?? now) <= now - window) samples.shift();
      }
      if (now - lastDraw >= minInterval) draw(now);
    },
    done() {
      if (finished) return;
      finished = true;
      if (visible) opts.write(CLEAR_LINE);
      visible = false;
    },
    hide() {
      if (visible) opts.write(CLEAR_LINE);
      visible = false;
    },
    show() {
      if (finished || visible || line === "") return;
      opts.write(`\r${line}\x1b[K`);
      visible = true;
    },
  };
}

/** Bytes per second over the samples, or undefined while there is too little to say. */
function rateOf(samples: readonly Sample[]): number | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined) return undefined;
  const dt = last.t - first.t;
  if (dt < 500) return undefined;
  return Math.max(0, ((last.bytes - first.bytes) * 1000) / dt);
}

function renderLine(s: ProgressState, elapsedMs: number, rate: number | undefined, width: number): string {
  const parts: string[] = [`[${formatDuration(elapsedMs)}]`, s.phase];
  if (s.filesTotal !== undefined) parts.push(`${s.filesDone ?? 0}/${s.filesTotal} files`);
  else if (s.filesDone !== undefined) parts.push(`${s.filesDone} files`);
  if (s.bytesTotal !== undefined) {
    const done = s.bytesDone ?? 0;
    const pct = s.bytesTotal > 0 ? Math.min(100, Math.floor((done * 100) / s.bytesTotal)) : 100;
    parts.push(`${formatBytes(done)} / ${formatBytes(s.bytesTotal)} (${pct}%)`);
  } else if (s.bytesDone !== undefined) {
    parts.push(formatBytes(s.bytesDone));
  }
  if (rate !== undefined) parts.push(formatRate(rate));
  if (rate !== undefined && rate > 0 && s.bytesTotal !== undefined) {
    const left = Math.max(0, s.bytesTotal - (s.bytesDone ?? 0));
    parts.push(`ETA ${formatDuration((left * 1000) / rate)}`);
  }
  let text = parts.join("  ");
  if ([...text].length >= width) return [...text].slice(0, width).join("");
  if (s.current !== undefined && s.current !== "") {
    const room = width - [...text].length - 2;
    if (room >= 8) text += "  " + truncateStart(s.current, room);
  }
  return text;
}
