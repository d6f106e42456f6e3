import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { relayDomain, type SmtpdInstance, startSmtpd, waitFor } from '@smtpq/e2e-smtpd';
import { type PhaseBudget, phaseBudget, type RunEvents } from './budget.js';
import { type BenchFrontend, startBenchFrontend } from './frontend.js';
import { frontendRequests, lastCounters, type QueueRestCounters } from './logs.js';
import { benchSender, buildMessage, recipientOf } from './message.js';
import type { BenchOptions, QueueKind } from './options.js';
import { epochNow, PROBE_FILE_VARIABLE, type ProbeReport } from './probes/event-log.js';
import { findQueueRestPid, peakMemoryKiB, pressureSome60 } from './procfs.js';
import { type CountingSink, startCountingSink } from './sink.js';
import { type LoadResult, sendLoad } from './smtp-load.js';

/** Figures of one run: one smtpd with one queue, one load. */
export interface RunResult {
  queue: QueueKind;
  round: number;
  /** One-minute load average of the machine at the end of the run. */
  loadAverage: number;
  /** CPU and I/O pressure (PSI some avg60, percent) at the end of the run. */
  cpuPressure: number | null;
  ioPressure: number | null;
  /** Warm-up messages accepted before the measured load; they are delivered too. */
  warmupAccepted: number;
  load: Omit<LoadResult, 'startedAt' | 'lastAcceptedAt'>;
  acceptSeconds: number;
  acceptedPerSecond: number;
  /** Messages that reached the sink in the delivery window (with the warm-up when separate). */
  delivered: number;
  deliverySeconds: number;
  deliveredPerSecond: number;
  accept: PhaseBudget;
  delivery: PhaseBudget;
  /** queue-rest's counters at exit (rest runs). */
  counters: QueueRestCounters | null;
  queueRestPeakKiB: number | null;
  frontendPeakKiB: number | null;
  /** Instrumentation that failed; the figures it feeds are missing. */
  problems: string[];
}

/**
 * smtpd.conf line for both runs (keywords of OpenSMTPD 6.8's `mta limit`). By default smtpd's
 * MTA opens a second connection to a relay only 5 s after the first (conn-delay-route) and
 * waits 3 s before it reconnects after 100 messages (reconn-delay-route). It also holds
 * envelopes back once 50 are in progress for a relay (task-hiwat): with 3000 messages queued,
 * delivery with the fs queue then stopped for 6 s at a time. These limits would cap delivery
 * whatever the queue does.
 */
export const MTA_LIMITS_LINE =
  'mta limit conn-delay-route 0 conn-delay-relay 0 reconn-delay-route 0 ' +
  'task-hiwat 10000 task-lowat 5000 task-release 1000';

/** Folders that the benchmark removes when it ends, also after Ctrl-C. */
export const foldersToRemove = new Set<string>();

const probeDir = new URL('./probes/', import.meta.url);

function probeUrl(file: string): string {
  return new URL(file, probeDir).href;
}

/** Time in ms to wait for delivery: generous, since a slow run is a result, not a failure. */
function deliveryTimeoutMs(messages: number): number {
  return Math.max(120_000, messages * 50);
}

/**
 * Runs the load against one smtpd: with its fs queue, or with queue-rest on a new fs frontend
 * whose store is a folder under the system's temporary folder, on the same disk as smtpd's
 * spool.
 */
export async function runOnce(
  queue: QueueKind,
  round: number,
  options: BenchOptions,
): Promise<RunResult> {
  const workDir = mkdtempSync(path.join(tmpdir(), `smtpq-bench-${queue}-`));
  foldersToRemove.add(workDir);
  const problems: string[] = [];

  const sink = await startCountingSink();
  const frontend = queue === 'rest' ? await startFrontend(workDir, options) : null;
  const smtpd = await startBenchSmtpd(frontend, sink, workDir, options);
  foldersToRemove.add(smtpd.dir);

  const { warmup, load } = await sendWarmupAndLoad(smtpd, sink, options);
  const acceptWindow = { start: load.startedAt, end: load.lastAcceptedAt };

  // In mixed mode the warm-up messages were delivered before the load; with the MTA paused
  // they are delivered in the delivery phase with the load.
  const deliveredBefore = options.phases === 'mixed' ? warmup.accepted : 0;
  const deliveryStart =
    options.phases === 'separate' ? await resumeDelivery(smtpd) : load.startedAt;
  await sink.waitForMessages(warmup.accepted + load.accepted, deliveryTimeoutMs(options.messages));
  const deliveryWindow = { start: deliveryStart, end: sink.lastMessageAt };
  const delivered = sink.messages - deliveredBefore;
  await waitQueueEmpty(smtpd);
  const loadAverage = loadavg()[0]!;
  const cpuPressure = pressureSome60('cpu');
  const ioPressure = pressureSome60('io');

  const queueRestPid = queue === 'rest' ? findQueueRestPid(smtpd.pid) : null;
  const queueRestPeakKiB = queueRestPid === null ? null : peakMemoryKiB(queueRestPid);
  const frontendPeakKiB = frontend === null ? null : peakMemoryKiB(frontend.pid);
  if (queue === 'rest' && queueRestPid === null) problems.push('queue-rest process not found');

  // smtpd's stop makes queue-rest log its counters and the probes write their files.
  await smtpd.stop();
  await frontend?.stop();
  await sink.stop();

  const counters = queue === 'rest' ? lastCounters(smtpd.log()) : null;
  if (queue === 'rest' && counters === null) problems.push('no counters line in the smtpd log');

  const events = frontend === null ? {} : readEvents(workDir, frontend, options.probes, problems);
  const acceptSeconds = (acceptWindow.end - acceptWindow.start) / 1000;
  const deliverySeconds = (deliveryWindow.end - deliveryWindow.start) / 1000;
  const { startedAt: _started, lastAcceptedAt: _last, ...loadFigures } = load;

  return {
    queue,
    round,
    loadAverage,
    cpuPressure,
    ioPressure,
    warmupAccepted: warmup.accepted,
    load: loadFigures,
    acceptSeconds,
    acceptedPerSecond: load.accepted / acceptSeconds,
    delivered,
    deliverySeconds,
    deliveredPerSecond: delivered / deliverySeconds,
    accept: phaseBudget(acceptWindow, load.accepted, events),
    delivery: phaseBudget(deliveryWindow, delivered, events),
    counters,
    queueRestPeakKiB,
    frontendPeakKiB,
    problems,
  };
}

/**
 * Sends the warm-up messages, which make sure that queue-rest has started and replied to INIT
 * before the clock runs, then the measured load. In mixed mode the warm-up messages are
 * delivered before the load starts, so that the delivery count covers the load alone.
 */
async function sendWarmupAndLoad(
  smtpd: SmtpdInstance,
  sink: CountingSink,
  options: BenchOptions,
): Promise<{ warmup: LoadResult; load: LoadResult }> {
  const send = (messages: number, firstIndex: number) =>
    sendLoad({
      port: smtpd.port,
      messages,
      sessions: Math.min(options.sessions, messages),
      messagesPerConnection: options.messagesPerConnection,
      from: benchSender,
      recipientOf: (index) => recipientOf(firstIndex + index, relayDomain),
      messageOf: (index) =>
        buildMessage(
          firstIndex + index,
          options.messageBytes,
          recipientOf(firstIndex + index, relayDomain),
        ),
    });

  const warmup = await send(options.warmup, options.messages);
  if (warmup.failed > 0) {
    throw new Error(
      `${warmup.failed} of ${options.warmup} warm-up messages failed, the first with: ` +
        `${warmup.failureSamples[0]}`,
    );
  }
  if (options.phases === 'mixed') {
    await sink.waitForMessages(warmup.accepted, deliveryTimeoutMs(options.warmup));
  }

  return { warmup, load: await send(options.messages, 0) };
}

/** Resumes smtpd's paused MTA; returns when the delivery phase started, in epoch ms. */
async function resumeDelivery(smtpd: SmtpdInstance): Promise<number> {
  const start = epochNow();
  const resumed = await smtpd.smtpctl(['resume', 'mta']);
  if (resumed.code !== 0) {
    throw new Error(`smtpctl resume mta failed: ${resumed.stderr || resumed.stdout}`);
  }
  return start;
}

function probeFile(workDir: string, name: string): string {
  return path.join(workDir, `${name}-probe.json`);
}

async function startFrontend(workDir: string, options: BenchOptions): Promise<BenchFrontend> {
  let storeDir = path.join(workDir, 'store');
  if (options.storeParent === null) {
    mkdirSync(storeDir, { mode: 0o700 });
  } else {
    storeDir = mkdtempSync(path.join(options.storeParent, 'smtpq-bench-store-'));
    foldersToRemove.add(storeDir);
  }

  return startBenchFrontend({
    storeDir,
    workDir,
    nodeArgs: options.probes ? [`--import=${probeUrl('frontend-probe.js')}`] : [],
    env: options.probes
      ? { ...process.env, [PROBE_FILE_VARIABLE]: probeFile(workDir, 'frontend') }
      : process.env,
  });
}

/**
 * Starts smtpd with the harness's configuration, relaying to the sink. smtpd passes its
 * environment to queue-rest, so the probe reaches queue-rest through NODE_OPTIONS.
 */
async function startBenchSmtpd(
  frontend: BenchFrontend | null,
  sink: CountingSink,
  workDir: string,
  options: BenchOptions,
): Promise<SmtpdInstance> {
  const variables: Record<string, string> = {};
  if (frontend !== null && options.probes) {
    const imports = `--import=${probeUrl('queue-rest-probe.js')}`;
    const current = process.env.NODE_OPTIONS;
    variables.NODE_OPTIONS = current === undefined ? imports : `${current} ${imports}`;
    variables[PROBE_FILE_VARIABLE] = probeFile(workDir, 'queue-rest');
  }

  return withEnvironment(variables, () =>
    startSmtpd({
      queue: frontend === null ? 'fs' : { restArg: frontend.url },
      relay: { host: '127.0.0.1', port: sink.port },
      extraConfig: [MTA_LIMITS_LINE],
      pause: options.phases === 'separate' ? ['mta'] : [],
    }),
  );
}

/** Runs `start` with `variables` set in this process's environment, which children inherit. */
async function withEnvironment<T>(
  variables: Record<string, string>,
  start: () => Promise<T>,
): Promise<T> {
  const saved = new Map(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return await start();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** Waits until `smtpctl show queue` lists no envelope, so every delete has been made. */
async function waitQueueEmpty(smtpd: SmtpdInstance): Promise<void> {
  await waitFor(
    'smtpd to hold no envelope after delivery',
    async () => {
      const listing = await smtpd.smtpctl(['show', 'queue']);
      return listing.code === 0 && listing.stdout.trim() === '';
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

function readProbe(file: string, problems: string[]): ProbeReport | null {
  if (!existsSync(file)) {
    problems.push(`${path.basename(file)} was not written`);
    return null;
  }
  const report = JSON.parse(readFileSync(file, 'utf8')) as ProbeReport;
  problems.push(...report.problems);
  return report;
}

function readEvents(
  workDir: string,
  frontend: BenchFrontend,
  probes: boolean,
  problems: string[],
): RunEvents {
  const events: RunEvents = {
    frontendRequests: frontendRequests(readFileSync(frontend.logPath, 'utf8')),
  };
  if (!probes) return events;

  const queueRest = readProbe(probeFile(workDir, 'queue-rest'), problems);
  const frontendProbe = readProbe(probeFile(workDir, 'frontend'), problems);
  if (queueRest !== null) {
    events.calls = queueRest.series.calls;
    events.http = queueRest.series.http;
  }
  if (frontendProbe !== null) events.syncs = frontendProbe.series.syncs;
  return events;
}
