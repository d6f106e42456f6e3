import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomMsgid } from '@smtpq/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeText, runSmtpq, startTestFrontend, type TestFrontend } from './queue-frontend.js';

const BODY = Buffer.from('Subject: discover\r\n\r\nbody\r\n');

let front: TestFrontend;
let folder: string;

beforeAll(async () => {
  front = await startTestFrontend();
  folder = await mkdtemp(path.join(tmpdir(), 'smtpq-discover-'));
});

afterAll(async () => {
  await front.close();
  await rm(folder, { recursive: true, force: true });
});

/** Stores a committed message with these envelopes and returns its msgid and evpids. */
async function seed(envelopes: Buffer[]): Promise<{ msgid: string; evpids: string[] }> {
  const msgid = randomMsgid();
  const evpids = envelopes.map((_, index) => `${msgid}0000000${index + 1}`);
  await front.client.messageBundle(
    msgid,
    envelopes.map((data, index) => ({ evpid: evpids[index]!, data })),
    BODY,
  );
  return { msgid, evpids };
}

function textEnvelopes(count: number): Buffer[] {
  return Array.from({ length: count }, (_, index) => envelopeText(`r${index}@example.org`));
}

let scriptCount = 0;

/**
 * Writes a stand-in for smtpctl that appends its arguments to a file and then runs `body`
 * (shell, with the evpid in $2). Returns the script's path and a reader of its calls.
 */
async function fakeSmtpctl(body: string): Promise<{ path: string; calls(): Promise<string[]> }> {
  scriptCount += 1;
  const script = path.join(folder, `smtpctl-${scriptCount}`);
  const calls = path.join(folder, `calls-${scriptCount}`);
  await writeFile(script, `#!/bin/sh\necho "$*" >> '${calls}'\n${body}\n`, { mode: 0o755 });
  return {
    path: script,
    calls: async () => (await readFile(calls, 'utf8').catch(() => '')).split('\n').filter(Boolean),
  };
}

/** Shell lines that change the envelope $2 in the frontend as queue-rest does for smtpd. */
function storeChange(method: 'DELETE' | 'PUT'): string {
  const request =
    method === 'PUT' ? "{method:'PUT',body:'version: 3\\nretry: 1\\n'}" : "{method:'DELETE'}";
  const script = `fetch('${front.url}/v1/envelopes/'+process.argv[1],${request}).then((r)=>process.exit(r.ok?0:1))`;
  return `'${process.execPath}' -e "${script}" "$2" || exit 3`;
}

/** Returns the body of an smtpctl whose smtpd delivers the envelope at once. */
function delivers(): string {
  return `${storeChange('DELETE')}\necho "1 envelope discovered"`;
}

function discover(msgid: string, smtpctl: string, extra: string[] = []) {
  return runSmtpq(['discover', msgid, '--url', front.url, '--smtpctl', smtpctl, ...extra]);
}

function lines(text: Buffer | string): string[] {
  return text.toString().trimEnd().split('\n');
}

describe('smtpq discover', () => {
  it('discovers each envelope once smtpd delivered the one before', async () => {
    const { msgid, evpids } = await seed(textEnvelopes(3));
    const smtpctl = await fakeSmtpctl(delivers());

    const run = await discover(msgid, smtpctl.path);

    expect(run.code, run.stderr).toBe(0);
    expect(await smtpctl.calls()).toEqual(evpids.map((evpid) => `discover ${evpid}`));
    expect(lines(run.stdout)).toEqual([
      ...evpids.map((evpid) => `${evpid}: 1 envelope discovered`),
      `discovered 3 of 3 envelopes of message ${msgid}`,
    ]);
    expect(run.stderr).toBe('');
  });

  it('stops while smtpd keeps an envelope queued', async () => {
    const { msgid, evpids } = await seed(textEnvelopes(3));
    const smtpctl = await fakeSmtpctl('echo "1 envelope discovered"');

    const run = await discover(msgid, smtpctl.path, ['--wait', '1']);

    expect(run.code).toBe(1);
    expect(await smtpctl.calls()).toEqual([`discover ${evpids[0]}`]);
    expect(run.stderr).toBe(
      `${evpids[0]}: smtpd has not delivered it within 1 s. smtpd ignores a discover of the ` +
        `other envelopes of message ${msgid} while it holds this one, so these were not ` +
        `discovered: ${evpids[1]} ${evpids[2]}. Run smtpq discover ${msgid} again once it has ` +
        "left smtpd's queue, or restart smtpd to schedule them all.\n",
    );
    expect(lines(run.stdout)).toEqual([
      `${evpids[0]}: 1 envelope discovered`,
      `discovered 1 of 3 envelopes of message ${msgid}`,
    ]);
  });

  it('stops when smtpd defers an envelope', async () => {
    const { msgid, evpids } = await seed(textEnvelopes(2));
    const smtpctl = await fakeSmtpctl(`${storeChange('PUT')}\necho "1 envelope discovered"`);

    const run = await discover(msgid, smtpctl.path);

    expect(run.code).toBe(1);
    expect(await smtpctl.calls()).toEqual([`discover ${evpids[0]}`]);
    expect(run.stderr).toMatch(
      new RegExp(
        `^${evpids[0]}: smtpd deferred its delivery and keeps it queued\\. .*: ${evpids[1]}\\.`,
      ),
    );
  });

  it('skips a rejected envelope and exits 1', async () => {
    const { msgid, evpids } = await seed([...textEnvelopes(1), Buffer.alloc(300, 0xff)]);
    const smtpctl = await fakeSmtpctl(delivers());

    const run = await discover(msgid, smtpctl.path);

    expect(run.code).toBe(1);
    expect(await smtpctl.calls()).toEqual([`discover ${evpids[0]}`]);
    expect(run.stderr).toBe(
      `${evpids[1]}: skipped, queue-rest rejects it: the envelope is not UTF-8 text\n`,
    );
    expect(lines(run.stdout).at(-1)).toBe(`discovered 1 of 2 envelopes of message ${msgid}`);
  });

  it('with --no-text-envelopes discovers a binary envelope too', async () => {
    const { msgid } = await seed([...textEnvelopes(1), Buffer.alloc(300, 0xff)]);
    const smtpctl = await fakeSmtpctl(delivers());

    const run = await discover(msgid, smtpctl.path, ['--no-text-envelopes']);

    expect(run.code, run.stderr).toBe(0);
    expect(await smtpctl.calls()).toHaveLength(2);
  });

  it('counts "0 envelopes discovered" as a failure', async () => {
    const { msgid, evpids } = await seed(textEnvelopes(3));
    // smtpctl exits 0 when smtpd could not load the envelope (seen with 6.8.0p2).
    const smtpctl = await fakeSmtpctl(
      `[ "$2" = ${evpids[1]} ] && { echo "0 envelopes discovered"; exit 0; }\n${delivers()}`,
    );

    const run = await discover(msgid, smtpctl.path);

    expect(run.code).toBe(1);
    expect(await smtpctl.calls()).toHaveLength(3);
    expect(run.stderr).toBe(
      `${evpids[1]}: smtpd did not discover it (smtpctl printed "0 envelopes discovered"); ` +
        "queue-rest's log says why\n",
    );
    expect(lines(run.stdout).at(-1)).toBe(`discovered 2 of 3 envelopes of message ${msgid}`);
  });

  it('reports a failing smtpctl with its output', async () => {
    const { msgid, evpids } = await seed(textEnvelopes(2));
    const smtpctl = await fakeSmtpctl(
      'echo "smtpctl: connect: /var/run/smtpd.sock: No such file or directory" >&2; exit 1',
    );

    const run = await discover(msgid, smtpctl.path);

    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual(
      evpids.map(
        (evpid) =>
          `${evpid}: smtpctl failed with exit status 1: smtpctl: connect: ` +
          '/var/run/smtpd.sock: No such file or directory',
      ),
    );
    expect(run.stdout.toString()).toBe(`discovered 0 of 2 envelopes of message ${msgid}\n`);
  });

  it('reports a missing smtpctl and what to do', async () => {
    const { msgid } = await seed(textEnvelopes(1));
    const missing = path.join(folder, 'no-such-smtpctl');

    const run = await discover(msgid, missing);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `error: cannot run ${missing} (ENOENT); install OpenSMTPD's smtpctl or pass --smtpctl ` +
        'with its path\n',
    );
  });

  it('rejects a message that is not committed', async () => {
    const msgid = randomMsgid();
    await front.client.messageCreate({ msgid });
    await front.client.envelopeCreate(msgid, envelopeText('open@example.org'), {
      evpid: `${msgid}00000001`,
    });
    const smtpctl = await fakeSmtpctl(delivers());

    const run = await discover(msgid, smtpctl.path);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `error: message ${msgid} is not committed yet; smtpd must not deliver it before its ` +
        'commit\n',
    );
    expect(await smtpctl.calls()).toEqual([]);
  });

  it('reports a message that does not exist', async () => {
    const smtpctl = await fakeSmtpctl(delivers());

    const run = await discover('0000d004', smtpctl.path);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`error: message 0000d004 not found in the frontend at ${front.url}\n`);
    expect(await smtpctl.calls()).toEqual([]);
  });

  it('rejects an evpid in place of the msgid', async () => {
    const run = await runSmtpq(['discover', '0000d00100000001', '--url', front.url]);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /0000d00100000001 is an evpid; give the msgid of its message, its first 8 digits \(0000d001\)/,
    );
  });

  it('rejects a --wait that is not whole seconds', async () => {
    const run = await runSmtpq(['discover', '0000d001', '--url', front.url, '--wait', '0.5']);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/0\.5 is not a whole number of seconds, at least 1/);
  });

  it('reports an unreachable frontend', async () => {
    const smtpctl = await fakeSmtpctl(delivers());

    // Nothing listens on port 9 of loopback.
    const run = await runSmtpq([
      'discover',
      '0000d001',
      '--url',
      'http://127.0.0.1:9',
      '--smtpctl',
      smtpctl.path,
    ]);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: cannot reach the frontend at http:\/\/127\.0\.0\.1:9: /);
    expect(await smtpctl.calls()).toEqual([]);
  });

  it('help explains the order and warns against smtpctl discover MSGID', async () => {
    const run = await runSmtpq(['discover', '--help']);

    expect(run.code).toBe(0);
    const help = run.stdout.toString().replace(/\s+/g, ' ');
    expect(help).toContain('Never run `smtpctl discover MSGID` with queue-rest');
    expect(help).toContain('which stops the whole smtpd');
    expect(help).toContain('discovers the next envelope only after smtpd has delivered');
    expect(help).toContain('--wait <seconds>');
  });
});
