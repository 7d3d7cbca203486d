import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import {
  type LocalCloud,
  type StartLocalCloudOptions,
  startLocalCloud,
} from '../../scripts/local/local-cloud.ts';
import { type CloudFormationTemplate, synthesizeTemplate } from '../../scripts/template/synthesize.ts';
import { stateKey } from '../../src/adapters/aws/market-table.ts';

/**
 * Test helpers for the local cloud. `useLocalCloud()` boots an ephemeral local cloud (free ports,
 * temp state deleted afterwards) from the real synthesized template in `beforeAll` and stops it
 * in `afterAll`:
 *
 *   const cloud = useLocalCloud();
 *   it('…', async () => { await cloud().clients.kinesis.send(…); });
 */

/** The real template of a stage (`sls package`, cached under .tmp/template-cache/). */
export function realTemplate(stage = 'dev'): Promise<CloudFormationTemplate> {
  return synthesizeTemplate(stage);
}

export function useLocalCloud(options: StartLocalCloudOptions = {}): () => LocalCloud {
  let cloud: LocalCloud | undefined;
  beforeAll(async () => {
    const stage = options.stage ?? 'dev';
    cloud = await startLocalCloud({
      ...options,
      stage,
      template: options.template ?? (await realTemplate(stage)),
    });
  });
  afterAll(async () => {
    await cloud?.stop();
  });
  return () => {
    if (!cloud)
      throw new Error('useLocalCloud: the local cloud is not up (used outside a test, or beforeAll failed)');
    return cloud;
  };
}

/** A temp directory for a persistent local cloud, removed in `afterAll`. */
export function useTempStateDir(prefix = 'tickstream-state-'): () => string {
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('useTempStateDir: used outside a test');
    return dir;
  };
}

/**
 * Stores a state item for `symbol` that this release cannot read (a snapshot of an unknown form):
 * every batch then fails that symbol alone, as a corrupted item would, until the item is repaired.
 */
export async function storeUnreadableState(cloud: LocalCloud, symbol: string): Promise<void> {
  await cloud.clients.documents.send(
    new PutCommand({
      TableName: cloud.env.MARKET_TABLE_NAME,
      Item: { ...stateKey(symbol), symbol, lastSequenceNumber: '1', lastEventTime: 0, snapshot: { v: 7 } },
    }),
  );
}
