import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeReport } from '../src/probes/event-log.js';

// The probes run in other Node processes, which load them from the build.
const probeDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/probes');
const workDir = mkdtempSync(path.join(tmpdir(), 'smtpq-bench-probes-'));

beforeAll(() => {
  if (!existsSync(path.join(probeDir, 'queue-rest-probe.js'))) {
    throw new Error(`${probeDir} is missing: run \`pnpm build\` first`);
  }
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function runWithProbe(probe: string, main: string, reportPath: string): ProbeReport {
  const result = spawnSync(
    process.execPath,
    [`--import=${pathToFileURL(path.join(probeDir, probe)).href}`, main],
    { env: { ...process.env, SMTPQ_BENCH_PROBE_FILE: reportPath }, encoding: 'utf8' },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(readFileSync(reportPath, 'utf8')) as ProbeReport;
}

describe('queue-rest probe', () => {
  it('times requests and HTTP round trips', () => {
    // A stand-in for queue-rest's dist: main.js drives QueueBackend and publishes on
    // undici's diagnostics channels as undici does for each request.
    const dist = path.join(workDir, 'queue-rest', 'dist');
    mkdirSync(dist, { recursive: true });
    writeFileSync(
      path.join(dist, 'backend.js'),
      'export class QueueBackend { async handle(request) { return { data: request.name }; } }\n',
    );
    writeFileSync(
      path.join(dist, 'main.js'),
      [
        "import { channel } from 'node:diagnostics_channel';",
        "import { QueueBackend } from './backend.js';",
        'const backend = new QueueBackend();',
        "await backend.handle({ name: 'MESSAGE_CREATE' });",
        "const request = { method: 'PUT', path: '/v1/messages/0a1b2c3d/bundle' };",
        "channel('undici:request:create').publish({ request });",
        "await backend.handle({ name: 'MESSAGE_COMMIT' });",
        "channel('undici:request:trailers').publish({ request, trailers: [] });",
        '',
      ].join('\n'),
    );
    const reportPath = path.join(workDir, 'queue-rest-report.json');

    const report = runWithProbe('queue-rest-probe.js', path.join(dist, 'main.js'), reportPath);

    expect(report.problems).toEqual([]);
    expect(report.vmHwmKiB).toBeGreaterThan(0);
    const calls = report.series.calls!;
    expect(calls.label.map((index) => calls.labels[index])).toEqual([
      'MESSAGE_CREATE',
      'MESSAGE_COMMIT',
    ]);
    expect(report.series.http?.labels).toEqual(['PUT /v1/messages/:id/bundle']);
    expect(report.series.http?.duration[0]).toBeGreaterThanOrEqual(0);
  });

  it('reports a missing QueueBackend', () => {
    const dist = path.join(workDir, 'other', 'dist');
    mkdirSync(dist, { recursive: true });
    writeFileSync(path.join(dist, 'backend.js'), 'export const nothing = 1;\n');
    writeFileSync(path.join(dist, 'main.js'), "import './backend.js';\n");
    const reportPath = path.join(workDir, 'other-report.json');

    const report = runWithProbe('queue-rest-probe.js', path.join(dist, 'main.js'), reportPath);

    expect(report.problems).toEqual([
      `${path.join(dist, 'backend.js')} has no QueueBackend.prototype.handle: no per-request timings`,
    ]);
  });
});

describe('frontend probe', () => {
  it('times fsync called through the ESM namespace', () => {
    const main = path.join(workDir, 'sync-main.mjs');
    writeFileSync(
      main,
      [
        "import * as fs from 'node:fs';",
        "import { promisify } from 'node:util';",
        'const fsync = promisify(fs.fsync);',
        `const fd = fs.openSync(${JSON.stringify(path.join(workDir, 'synced'))}, 'w');`,
        "fs.writeSync(fd, 'data');",
        'await fsync(fd);',
        'fs.closeSync(fd);',
        '',
      ].join('\n'),
    );
    const reportPath = path.join(workDir, 'frontend-report.json');

    const report = runWithProbe('frontend-probe.js', main, reportPath);

    expect(report.series.syncs?.labels).toEqual(['fsync']);
    expect(report.series.syncs?.start).toHaveLength(1);
  });
});
