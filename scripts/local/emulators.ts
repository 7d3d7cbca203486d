import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import S3rver from 's3rver';
import { installDesShim } from './des-shim.ts';
import { deleteWithoutFolderScans } from './s3rver-delete.ts';
import { type LocalSqs, SQS_SNAPSHOT_FILE, startLocalSqs } from './sqs.ts';

/**
 * Boots the four in-process emulators on 127.0.0.1, each on a free port. With a state directory,
 * kinesalite and dynalite keep LevelDB stores under it (`kinesis/`, `dynamodb/`), s3rver its
 * objects (`s3/`), and SQS a JSON snapshot (`sqs.json`); without one, Kinesis, DynamoDB and SQS
 * live in memory and S3 in a directory the caller deletes.
 */

export interface Emulator {
  readonly endpoint: string;
  close(): Promise<void>;
}

export interface Emulators {
  readonly kinesis: Emulator;
  readonly dynamodb: Emulator;
  readonly s3: Emulator;
  readonly sqs: Emulator & { readonly local: LocalSqs };
  /** True when s3rver's DES continuation tokens run through the 3DES shim (no legacy OpenSSL). */
  readonly desShim: boolean;
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
    });
  });
}

/** Closes an emulator's server (which also closes its LevelDB), dropping idle keep-alive sockets. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
    // Connections still open after a grace period (a client mid-request) are cut.
    setTimeout(() => server.closeAllConnections(), 200).unref();
  });
}

function onceOnly(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

export interface StartEmulatorsOptions {
  /** Persistent state directory; undefined = in memory (S3 still needs `s3Directory`). */
  readonly stateDir?: string;
  /** Where s3rver keeps objects when there is no stateDir. */
  readonly s3Directory: string;
  readonly region: string;
  readonly accountId: string;
  /** Upper bound for kinesalite's total shard count. */
  readonly shardLimit?: number;
}

export async function startEmulators(opts: StartEmulatorsOptions): Promise<Emulators> {
  const desShim = installDesShim();
  const dir = (name: string) => {
    if (!opts.stateDir) return undefined;
    const d = join(opts.stateDir, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  // kinesalite and dynalite read the account and region for their ARNs from the environment when
  // they are constructed: set both for that moment only.
  const withArnEnv = <T>(make: () => T): T => {
    const saved = { AWS_ACCOUNT_ID: process.env.AWS_ACCOUNT_ID, AWS_REGION: process.env.AWS_REGION };
    process.env.AWS_ACCOUNT_ID = opts.accountId;
    process.env.AWS_REGION = opts.region;
    try {
      return make();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  const started: Emulator[] = [];
  try {
    const kinesisPath = dir('kinesis');
    const kServer = withArnEnv(() =>
      kinesalite({
        ...(kinesisPath ? { path: kinesisPath } : {}),
        createStreamMs: 0,
        deleteStreamMs: 0,
        updateStreamMs: 0,
        shardLimit: Math.max(opts.shardLimit ?? 0, 50),
      }),
    );
    const kinesis: Emulator = {
      endpoint: await listen(kServer),
      close: onceOnly(() => closeServer(kServer)),
    };
    started.push(kinesis);

    const dynamoPath = dir('dynamodb');
    const dServer = withArnEnv(() =>
      dynalite({
        ...(dynamoPath ? { path: dynamoPath } : {}),
        createTableMs: 0,
        deleteTableMs: 0,
        updateTableMs: 0,
      }),
    );
    const dynamodb: Emulator = {
      endpoint: await listen(dServer),
      close: onceOnly(() => closeServer(dServer)),
    };
    started.push(dynamodb);

    const s3Dir = dir('s3') ?? opts.s3Directory;
    mkdirSync(s3Dir, { recursive: true });
    const s3rver = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: s3Dir,
      vhostBuckets: false,
    });
    deleteWithoutFolderScans(s3rver.store);
    const addr = await s3rver.run();
    const s3: Emulator = {
      endpoint: `http://127.0.0.1:${addr.port}`,
      close: onceOnly(async () => {
        const server = s3rver.httpServer;
        if (server) await closeServer(server);
      }),
    };
    started.push(s3);

    const local = await startLocalSqs({
      region: opts.region,
      accountId: opts.accountId,
      ...(opts.stateDir ? { stateFile: join(opts.stateDir, SQS_SNAPSHOT_FILE) } : {}),
    });
    const sqs = { endpoint: local.endpoint, local, close: onceOnly(() => local.close()) };
    started.push(sqs);

    return {
      kinesis,
      dynamodb,
      s3,
      sqs,
      desShim,
      close: onceOnly(async () => {
        const results = await Promise.allSettled(started.map((e) => e.close()));
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed.length)
          throw new AggregateError(
            failed.map((f) => f.reason),
            'closing the emulators failed',
          );
      }),
    };
  } catch (e) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw e;
  }
}
