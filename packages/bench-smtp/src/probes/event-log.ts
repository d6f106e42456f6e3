import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Environment variable that names the file a probe writes its events to at exit. */
export const PROBE_FILE_VARIABLE = 'SMTPQ_BENCH_PROBE_FILE';

/** Events of one kind as a probe writes them: parallel arrays, times in fractional epoch ms. */
export interface EventSeries {
  labels: string[];
  /** Index into `labels` of each event. */
  label: number[];
  start: number[];
  duration: number[];
}

/** Report that a probe writes when its process exits. */
export interface ProbeReport {
  pid: number;
  /** Peak resident set size of the process (VmHWM), in KiB. */
  vmHwmKiB: number | null;
  series: Record<string, EventSeries>;
  /** Instrumentation that could not be installed; its figures are missing. */
  problems: string[];
}

/** Returns fractional epoch ms from a monotonic clock, comparable across processes. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Timed events held in packed number arrays, about 24 bytes per event, so that the probe
 * adds little to the peak memory that the benchmark reports.
 */
export class EventLog {
  private readonly series: EventSeries = { labels: [], label: [], start: [], duration: [] };
  private readonly labelIndex = new Map<string, number>();

  add(label: string, start: number, duration: number): void {
    let index = this.labelIndex.get(label);
    if (index === undefined) {
      index = this.series.labels.length;
      this.series.labels.push(label);
      this.labelIndex.set(label, index);
    }
    this.series.label.push(index);
    this.series.start.push(start);
    this.series.duration.push(duration);
  }

  toJSON(): EventSeries {
    return this.series;
  }
}

/** Reads VmHWM from /proc/self/status, in KiB. */
export function readOwnPeakMemory(): number | null {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'latin1'));
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** Writes the report when the process exits, however it exits short of a fatal signal. */
export function writeReportAtExit(path: string, build: () => Omit<ProbeReport, 'vmHwmKiB'>): void {
  process.on('exit', () => {
    const report: ProbeReport = { ...build(), vmHwmKiB: readOwnPeakMemory() };
    writeFileSync(path, JSON.stringify(report));
  });
}
