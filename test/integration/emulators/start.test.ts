import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalCloud } from '../../../scripts/local/local-cloud.ts';
import { createAwsClients } from '../../../src/adapters/aws/clients.ts';
import { awsClientConfigFromEnv } from '../../../src/config/aws.ts';
import { realTemplate } from '../../support/local-cloud.ts';

// `npm start` as a user runs it: a separate Node process (no --openssl-legacy-provider).

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tickstream-start-'));
  dirs.push(d);
  return d;
};

function startProcess(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const env = { ...process.env, ...extraEnv };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['scripts/start.ts', ...args], { cwd: process.cwd(), env });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = async (text: string, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!stdout.includes(text)) {
      if (child.exitCode !== null)
        throw new Error(`start exited ${child.exitCode} before "${text}":\n${stderr}`);
      if (Date.now() > deadline)
        throw new Error(`no "${text}" within ${timeoutMs} ms:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, exited, waitFor, out: () => stdout, err: () => stderr };
}

const lastJson = (stdout: string) =>
  JSON.parse(stdout.trim().split('\n').pop()!) as {
    bootMs: number;
    env: Record<string, string>;
    endpoints: Record<string, string>;
    state: { foundEarlierState: boolean; previousRun: string };
    resources: { streams: Record<string, { name: string }>; tables: Record<string, { name: string }> };
  };

describe('npm start (scripts/start.ts)', () => {
  it('--once boots the template resources, prints them, and exits 0', async () => {
    const template = await realTemplate('dev');
    const p = startProcess(['--cloud-only', '--once', '--ephemeral', '--json']);
    const { code } = await p.exited;
    expect(code, p.err()).toBe(0);
    const summary = lastJson(p.out());
    const streamName = (template.Resources.TicksStream!.Properties as { Name: string }).Name;
    const tableName = (template.Resources.MarketTable!.Properties as { TableName: string }).TableName;
    expect(summary.resources.streams.TicksStream!.name).toBe(streamName);
    expect(summary.env.TICKS_STREAM_NAME).toBe(streamName);
    expect(summary.env.MARKET_TABLE_NAME).toBe(tableName);
    for (const url of Object.values(summary.endpoints)) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(p.out()).toContain(`kinesis stream  ${streamName}`);
    expect(p.out()).toContain('ready in');
  });

  it('stays up until SIGINT, then stops cleanly with exit 0 and releases its state directory', async () => {
    const dir = tempDir();
    const p = startProcess(['--cloud-only', '--state-dir', dir, '--json']);
    await p.waitFor('"bootMs"');
    const summary = lastJson(p.out());
    expect(existsSync(join(dir, 'lock.json'))).toBe(true);
    // Write through the printed environment, as another process (the pipeline) would.
    const clients = createAwsClients(awsClientConfigFromEnv(summary.env));
    await clients.documents.send(
      new PutCommand({
        TableName: summary.env.MARKET_TABLE_NAME,
        Item: { pk: 'SYM#QQQ', sk: 'LATEST', close: 487.1 },
      }),
    );
    clients.destroy();
    p.child.kill('SIGINT');
    const { code, signal } = await p.exited;
    expect(signal).toBeNull();
    expect(code, p.err()).toBe(0);
    expect(p.err()).toContain('stopped cleanly');
    expect(existsSync(join(dir, 'lock.json'))).toBe(false);

    const again = startProcess(['--cloud-only', '--state-dir', dir, '--once', '--json']);
    expect((await again.exited).code, again.err()).toBe(0);
    const second = lastJson(again.out());
    expect(second.state).toMatchObject({ foundEarlierState: true, previousRun: 'clean' });
    expect(again.out()).toMatch(/dynamodb table {2}\S+ .* — 1 item\n/);
  });

  it('after a crash (SIGKILL) the next start takes over the stale lock and finds the written state and the last SQS snapshot', async () => {
    const dir = tempDir();
    const p = startProcess(['--cloud-only', '--state-dir', dir, '--json']);
    await p.waitFor('"bootMs"');
    const summary = lastJson(p.out());
    const clients = createAwsClients(awsClientConfigFromEnv(summary.env));
    await clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: summary.env.TICKS_STREAM_NAME,
        Records: ['AAPL', 'NVDA'].map((s) => ({ PartitionKey: s, Data: Buffer.from(s) })),
      }),
    );
    await clients.documents.send(
      new PutCommand({
        TableName: summary.env.MARKET_TABLE_NAME,
        Item: { pk: 'SYM#NVDA', sk: 'LATEST', close: 118.85 },
      }),
    );
    await clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: summary.env.DEAD_LETTER_QUEUE_URL,
        MessageBody: 'rejected: price NaN',
      }),
    );
    clients.destroy();
    // SQS lives in memory: its snapshot is rewritten every ~2 s while something changed.
    const snapshot = join(dir, 'sqs.json');
    const deadline = Date.now() + 8000;
    while (!(existsSync(snapshot) && readFileSync(snapshot, 'utf8').includes('rejected: price NaN'))) {
      if (Date.now() > deadline) throw new Error('no SQS snapshot with the message within 8 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    p.child.kill('SIGKILL');
    expect((await p.exited).signal).toBe('SIGKILL');
    expect(existsSync(join(dir, 'lock.json'))).toBe(true); // left behind by the crash

    const cloud = await startLocalCloud({ stateDir: dir, template: await realTemplate('dev') });
    try {
      expect(cloud.state.previousRun).toBe('unclean');
      expect(cloud.state.counts.streams.TicksStream).toEqual({ count: 2, complete: true });
      const item = await cloud.clients.documents.send(
        new GetCommand({ TableName: cloud.env.MARKET_TABLE_NAME, Key: { pk: 'SYM#NVDA', sk: 'LATEST' } }),
      );
      expect(item.Item?.close).toBe(118.85);
      expect(cloud.state.counts.queues.ProcessorDeadLetterQueue).toEqual({ count: 1, complete: true });
      const msg = await cloud.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: cloud.env.DEAD_LETTER_QUEUE_URL }),
      );
      expect(msg.Messages?.map((m) => m.Body)).toEqual(['rejected: price NaN']);
    } finally {
      await cloud.stop();
    }
  });

  it('--ephemeral: a start removes the directory a killed local cloud left in the temp directory, and keeps a running one', async () => {
    // A temp directory of this test's own: the other test files' local clouds sweep the shared one.
    const env = { TMPDIR: tempDir() };
    const ephemeral = () =>
      readdirSync(env.TMPDIR)
        .filter((n) => n.startsWith('tickstream-local-'))
        .map((n) => join(env.TMPDIR, n));
    const holder = (dir: string) =>
      (JSON.parse(readFileSync(join(dir, 'lock.json'), 'utf8')) as { pid: number }).pid;
    const running = startProcess(['--cloud-only', '--ephemeral', '--json'], env);
    const killed = startProcess(['--cloud-only', '--ephemeral', '--json'], env);
    await Promise.all([running.waitFor('"bootMs"'), killed.waitFor('"bootMs"')]);
    const dirs = ephemeral();
    expect(dirs).toHaveLength(2);
    const runningDir = dirs.find((d) => holder(d) === running.child.pid)!;
    const killedDir = dirs.find((d) => holder(d) === killed.child.pid)!;
    killed.child.kill('SIGKILL');
    expect((await killed.exited).signal).toBe('SIGKILL');
    expect(existsSync(killedDir)).toBe(true);

    const next = startProcess(['--cloud-only', '--once', '--ephemeral', '--json'], env);
    expect((await next.exited).code, next.err()).toBe(0);
    expect(next.err()).toContain(
      `removed 1 ephemeral state directory of local clouds that did not stop: ${killedDir}`,
    );
    expect(ephemeral()).toEqual([runningDir]);

    running.child.kill('SIGINT');
    expect((await running.exited).code, running.err()).toBe(0);
    expect(ephemeral()).toEqual([]);
  });

  it('--ephemeral keeps what the stream stores in its temp directory, not in memory, and removes it on stop', async () => {
    const env = { TMPDIR: tempDir() };
    const p = startProcess(['--cloud-only', '--ephemeral', '--json'], env);
    await p.waitFor('"bootMs"');
    const [dir] = readdirSync(env.TMPDIR).filter((n) => n.startsWith('tickstream-local-'));
    const summary = lastJson(p.out());
    const clients = createAwsClients(awsClientConfigFromEnv(summary.env));
    // 2,000 records of 1 KB: 2 MB that an in-memory stream would hold in the process for good.
    for (let i = 0; i < 4; i++) {
      await clients.kinesis.send(
        new PutRecordsCommand({
          StreamName: summary.env.TICKS_STREAM_NAME,
          Records: Array.from({ length: 500 }, (_, j) => ({
            PartitionKey: `S${j % 20}`,
            Data: Buffer.alloc(1024, i * 500 + j),
          })),
        }),
      );
    }
    clients.destroy();
    const kinesisDir = join(env.TMPDIR, dir!, 'kinesis');
    const bytes = existsSync(kinesisDir)
      ? readdirSync(kinesisDir, { recursive: true })
          .map((f) => statSync(join(kinesisDir, String(f))))
          .filter((st) => st.isFile())
          .reduce((n, st) => n + st.size, 0)
      : 0;
    expect(bytes).toBeGreaterThan(1_000_000);
    p.child.kill('SIGINT');
    expect((await p.exited).code, p.err()).toBe(0);
    expect(existsSync(join(env.TMPDIR, dir!))).toBe(false);
  });

  it('rejects an unknown option with its name and exit code 2', async () => {
    const p = startProcess(['--replya', 'x']);
    const { code } = await p.exited;
    expect(code).toBe(2);
    expect(p.err()).toContain('unknown option --replya');
  });
});
