import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequestHandler } from 'local-aws-sqs';
import writeFileAtomic from 'write-file-atomic';

/**
 * local-aws-sqs keeps queues and messages in memory only. This wraps it with persistence: every
 * queue instance is instrumented (its public newRecord/delete/clearRecords) so that the messages
 * it holds are known, and a JSON snapshot of queues + messages is written atomically on clean stop
 * (and every `snapshotEveryMs` while something changed). On start the snapshot is restored:
 * messages come back visible (in-flight receipts do not survive a restart, as if their visibility
 * timeout had passed), with their ids, bodies, attributes, send time and receive count.
 */

export const SQS_SNAPSHOT_FILE = 'sqs.json';
const SNAPSHOT_VERSION = 1;

interface SqsRecord {
  MessageId: string;
  MessageBody: string;
  MessageAttributes?: Record<string, unknown>;
  attributes: Record<string, string>;
  ReceiptHandle?: string;
}

interface SqsEntry {
  record: SqsRecord;
}

/** The parts of local-aws-sqs's Queue we use (all public on the instance). */
interface SqsQueue {
  QueueName: string;
  MessageRetentionPeriod: number;
  Tags: Record<string, string>;
  newRecord: (record: SqsRecord, delay?: number) => SqsEntry;
  setRecord: (input: Record<string, unknown>, messageId?: string) => unknown;
  delete: (receiptHandle: string) => boolean;
  clearRecords: () => void;
  getAttributes: (names: string[]) => Record<string, string> | undefined;
}

interface SqsService {
  Queues: SqsQueue[];
  validateDlqDestination: boolean;
}

interface QueueSnapshot {
  name: string;
  attributes: Record<string, string>;
  tags: Record<string, string>;
  messages: SqsRecord[];
}

interface Snapshot {
  version: number;
  savedAt: string;
  queues: QueueSnapshot[];
}

const RESTORABLE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'SqsManagedSseEnabled',
];

/** Message attributes that are SQS system attributes set by the sender or by redrive. */
const SYSTEM_ATTRIBUTES = ['AWSTraceHeader', 'DeadLetterQueueSourceArn'];

export interface LocalSqs {
  readonly server: Server;
  readonly endpoint: string;
  /** Queues and messages restored from the snapshot (0 when none). */
  readonly restored: { queues: number; messages: number };
  /** Messages currently held, per queue name. */
  messageCounts(): Record<string, number>;
  /**
   * The messages a queue holds (visible or not), read without receiving them: nothing is hidden and
   * no receive is counted. Empty for an unknown queue.
   */
  messages(queueName: string): HeldMessage[];
  /** Writes the snapshot now (no-op without a state file). */
  snapshot(): void;
  close(): Promise<void>;
}

export interface HeldMessage {
  readonly messageId: string;
  readonly body: string;
  /** SentTimestamp (epoch ms). */
  readonly sentAt: number;
}

function messageIdOfReceipt(handle: string): string | undefined {
  try {
    const text = Buffer.from(handle, 'base64').toString('utf8');
    const parsed = JSON.parse(text.slice(text.indexOf('{'))) as { MessageId?: unknown };
    return typeof parsed.MessageId === 'string' ? parsed.MessageId : undefined;
  } catch {
    return undefined;
  }
}

export async function startLocalSqs(opts: {
  region: string;
  accountId: string;
  /** JSON snapshot file; undefined = in memory only. */
  stateFile?: string;
  snapshotEveryMs?: number;
}): Promise<LocalSqs> {
  const { service: rawService, requestHandler } = createRequestHandler({
    port: 0,
    hostname: '127.0.0.1',
    region: opts.region,
    accountId: opts.accountId,
    emulateQueueCreationLifecycle: false,
  });
  const service = rawService as unknown as SqsService;
  const tracked = new WeakMap<SqsQueue, Map<string, SqsEntry>>();
  let dirty = false;

  const instrument = (q: SqsQueue): Map<string, SqsEntry> => {
    let held = tracked.get(q);
    if (held) return held;
    const map = new Map<string, SqsEntry>();
    held = map;
    tracked.set(q, map);
    const newRecord = q.newRecord;
    q.newRecord = (record, delay) => {
      const entry = newRecord(record, delay);
      map.set(record.MessageId, entry);
      // A redrive moves the message here from its source queue, which drops it privately.
      const source = record.attributes?.DeadLetterQueueSourceArn;
      if (source) {
        const sourceName = source.slice(source.lastIndexOf(':') + 1);
        const sourceQueue = service.Queues.find((s) => s.QueueName === sourceName);
        if (sourceQueue && sourceQueue !== q) tracked.get(sourceQueue)?.delete(record.MessageId);
      }
      dirty = true;
      return entry;
    };
    const del = q.delete.bind(q);
    q.delete = (handle) => {
      const ok = del(handle);
      const id = messageIdOfReceipt(handle);
      if (ok && id) {
        map.delete(id);
        dirty = true;
      }
      return ok;
    };
    const clear = q.clearRecords.bind(q);
    q.clearRecords = () => {
      clear();
      map.clear();
      dirty = true;
    };
    return map;
  };
  const instrumentAll = () => {
    for (const q of service.Queues) instrument(q);
  };

  const liveMessages = (q: SqsQueue): SqsRecord[] => {
    const now = Date.now();
    const out: SqsRecord[] = [];
    for (const entry of tracked.get(q)?.values() ?? []) {
      const sent = Number(entry.record.attributes.SentTimestamp);
      if (Number.isFinite(sent) && sent + q.MessageRetentionPeriod * 1000 <= now) continue; // expired
      out.push(entry.record);
    }
    return out;
  };

  // Restore.
  const restored = { queues: 0, messages: 0 };
  if (opts.stateFile && existsSync(opts.stateFile)) {
    let snap: Snapshot;
    try {
      snap = JSON.parse(readFileSync(opts.stateFile, 'utf8')) as Snapshot;
    } catch (e) {
      throw new Error(
        `${opts.stateFile}: SQS snapshot is not valid JSON (${(e as Error).message}); ` +
          'remove it or run `npm run local:reset`',
      );
    }
    if (snap.version !== SNAPSHOT_VERSION || !Array.isArray(snap.queues))
      throw new Error(`${opts.stateFile}: unsupported SQS snapshot version ${String(snap.version)}`);
    const { service: seeded } = createRequestHandler({
      port: 0,
      region: opts.region,
      accountId: opts.accountId,
      validateDlqDestination: false,
      queues: snap.queues.map((q) => ({ QueueName: q.name, Attributes: q.attributes, tags: q.tags })),
    });
    const seededQueues = (seeded as unknown as SqsService).Queues;
    for (const q of seededQueues) (q as unknown as { service: unknown }).service = service;
    service.Queues.push(...seededQueues);
    instrumentAll();
    const now = Date.now();
    for (const qs of snap.queues) {
      const q = service.Queues.find((x) => x.QueueName === qs.name);
      if (!q) continue;
      restored.queues++;
      for (const m of qs.messages) {
        const sent = Number(m.attributes.SentTimestamp);
        if (Number.isFinite(sent) && sent + q.MessageRetentionPeriod * 1000 <= now) continue;
        const system: Record<string, { DataType: string; StringValue: string }> = {};
        for (const k of SYSTEM_ATTRIBUTES) {
          const v = m.attributes[k];
          if (typeof v === 'string') system[k] = { DataType: 'String', StringValue: v };
        }
        const result = q.setRecord(
          {
            MessageBody: m.MessageBody,
            ...(m.MessageAttributes ? { MessageAttributes: m.MessageAttributes } : {}),
            ...(Object.keys(system).length ? { MessageSystemAttributes: system } : {}),
            ...(m.attributes.MessageGroupId ? { MessageGroupId: m.attributes.MessageGroupId } : {}),
            ...(m.attributes.MessageDeduplicationId
              ? { MessageDeduplicationId: m.attributes.MessageDeduplicationId }
              : {}),
            DelaySeconds: 0,
          },
          m.MessageId,
        ) as SqsEntry | undefined;
        const entry = tracked.get(q)?.get(m.MessageId) ?? result;
        if (entry?.record) {
          for (const k of ['SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp']) {
            const v = m.attributes[k];
            if (v !== undefined) entry.record.attributes[k] = v;
          }
        }
        restored.messages++;
      }
    }
    dirty = false;
  }

  const snapshot = () => {
    if (!opts.stateFile) return;
    const snap: Snapshot = {
      version: SNAPSHOT_VERSION,
      savedAt: new Date().toISOString(),
      queues: service.Queues.map((q) => {
        const all = q.getAttributes(['All']) ?? {};
        const attributes: Record<string, string> = {};
        for (const k of RESTORABLE_ATTRIBUTES) if (all[k] !== undefined) attributes[k] = all[k];
        return {
          name: q.QueueName,
          attributes,
          tags: { ...q.Tags },
          messages: liveMessages(q).map((r) => ({
            MessageId: r.MessageId,
            MessageBody: r.MessageBody,
            ...(r.MessageAttributes ? { MessageAttributes: r.MessageAttributes } : {}),
            attributes: { ...r.attributes },
          })),
        };
      }),
    };
    writeFileAtomic.sync(opts.stateFile, JSON.stringify(snap));
    dirty = false;
  };

  const server = createServer((req, res) => {
    instrumentAll();
    // Queues created by this request are instrumented before any message can reach them.
    res.on('finish', instrumentAll);
    void requestHandler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  (rawService as unknown as { PORT: number }).PORT = port;

  const timer =
    opts.stateFile && (opts.snapshotEveryMs ?? 2000) > 0
      ? setInterval(() => {
          if (dirty) snapshot();
        }, opts.snapshotEveryMs ?? 2000)
      : undefined;
  timer?.unref();

  let closing: Promise<void> | undefined;
  return {
    server,
    endpoint: `http://127.0.0.1:${port}`,
    restored,
    messageCounts() {
      instrumentAll();
      const out: Record<string, number> = {};
      for (const q of service.Queues) out[q.QueueName] = liveMessages(q).length;
      return out;
    },
    messages(queueName) {
      instrumentAll();
      const q = service.Queues.find((x) => x.QueueName === queueName);
      return (q ? liveMessages(q) : []).map((r) => ({
        messageId: r.MessageId,
        body: r.MessageBody,
        sentAt: Number(r.attributes.SentTimestamp),
      }));
    },
    snapshot,
    close() {
      closing ??= (async () => {
        if (timer) clearInterval(timer);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        instrumentAll();
        snapshot();
        for (const q of service.Queues) q.clearRecords(); // clears the emulator's timers
      })();
      return closing;
    },
  };
}
