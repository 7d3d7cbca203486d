import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createMemorySinks, MemoryLakeWriter } from '../../../src/adapters/memory/index.ts';
import type { Alert, LakeBatch } from '../../../src/ports/processor.ts';

const T0 = Date.UTC(2024, 2, 8, 14, 30);
const alert: Alert = {
  id: 'AAPL#gap#1',
  symbol: 'AAPL',
  kind: 'gap',
  severity: 'low',
  at: T0,
  value: 1,
  threshold: 0.5,
  message: 'gap',
};

describe('in-memory processor adapters', () => {
  it('state store: saves only from the expected sequence number, returns copies', async () => {
    const { state } = createMemorySinks();
    const s1 = { symbol: 'AAPL', lastSequenceNumber: '10', lastEventTime: T0, snapshot: { ema: [1, 2] } };
    expect(await state.save(s1, undefined)).toBe('saved');
    expect(await state.save(s1, undefined)).toBe('conflict');
    expect(await state.save({ ...s1, lastSequenceNumber: '11' }, '9')).toBe('conflict');
    expect(await state.save({ ...s1, lastSequenceNumber: '11' }, '10')).toBe('saved');
    const loaded = await state.loadMany(['AAPL', 'MSFT']);
    expect([...loaded.keys()]).toEqual(['AAPL']);
    expect(loaded.get('AAPL')!.lastSequenceNumber).toBe('11');
    (loaded.get('AAPL')!.snapshot as { ema: number[] }).ema.push(3);
    expect(state.get('AAPL')!.snapshot).toEqual({ ema: [1, 2] });
  });

  it('metrics store: rows are upserts by (symbol, kind, time) and LATEST never moves backwards', async () => {
    const { metrics } = createMemorySinks();
    const row = (m: number, close: number) => ({
      symbol: 'AAPL',
      time: T0 + m * 60_000,
      kind: 'bar' as const,
      values: { close },
    });
    await metrics.write([row(0, 1), row(1, 2), row(1, 3)]);
    await metrics.write([row(0, 9)]);
    expect(metrics.count('AAPL')).toBe(2);
    expect(metrics.rows('AAPL').map((r) => r.values.close)).toEqual([9, 3]);
    expect(metrics.latest('AAPL')!.time).toBe(T0 + 60_000);
    expect(metrics.latest('AAPL')!.values.close).toBe(3);
  });

  it('lake writer: one object per (batch, shard, day); the same batch twice is still one object', async () => {
    const lake = new MemoryLakeWriter({ encode: true });
    const batch: LakeBatch = {
      shardId: 'shardId-000000000000',
      firstSequenceNumber: '1',
      lastSequenceNumber: '2',
      records: [1, 2].map((i) => ({
        symbol: 'AAPL',
        time: T0 + i,
        kind: 'tick' as const,
        shardId: 'shardId-000000000000',
        sequenceNumber: String(i),
        arrivalTime: T0 + i,
        event: { p: i },
      })),
    };
    const keys = await lake.writeBatch(batch);
    await lake.writeBatch(batch);
    expect(keys).toEqual([
      expect.stringMatching(/^raw\/dt=2024-03-08\/shard=shardId-000000000000\/1-2-[0-9a-f]{16}\.ndjson\.gz$/),
    ]);
    expect(lake.objectCount).toBe(1);
    expect(lake.puts).toBe(2);
    const lines = gunzipSync(lake.objects()[0]!.body!).toString().trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).event)).toEqual([{ p: 1 }, { p: 2 }]);
  });

  it("alert ledger: claim once, only the claim's own token gives it back, a published claim is never released", async () => {
    let now = T0;
    const { ledger, notifier } = createMemorySinks({ now: () => now });
    expect(await ledger.claim(alert, 'first')).toBe('claimed');
    expect(await ledger.claim(alert, 'second')).toBe('already-claimed');
    await ledger.release(alert, 'second');
    expect(ledger.status(alert)).toEqual({ status: 'claimed' });
    await ledger.release(alert, 'first');
    expect(await ledger.claim(alert, 'third')).toBe('claimed');
    // The same claim again (a call retried after its reply was lost) is still this claim's.
    expect(await ledger.claim(alert, 'third')).toBe('claimed');
    const id = await notifier.publish(alert);
    await ledger.confirm(alert, id);
    await ledger.release(alert, 'third');
    expect(ledger.status(alert)).toEqual({ status: 'published', messageId: id });
    now += 10 * 60_000;
    expect(await ledger.claim(alert, 'fourth')).toBe('already-claimed');
    expect(await ledger.claim(alert, 'third')).toBe('already-claimed');
  });

  it('alert ledger: a claim never confirmed nor released is final however old (at most once)', async () => {
    // Publish outcome unknown (e.g. SNS accepted it, the reply was lost): the claim stays 'claimed'
    // and no later retry may take it over and send the alert a second time.
    let now = T0;
    const { ledger } = createMemorySinks({ now: () => now });
    expect(await ledger.claim(alert, 'first')).toBe('claimed');
    now = T0 + 60 * 60_000; // 1 hour later
    expect(await ledger.claim(alert, 'later')).toBe('already-claimed');
    now = T0 + 24 * 60 * 60_000; // 1 day later
    expect(await ledger.claim(alert, 'much later')).toBe('already-claimed');
    expect(ledger.status(alert)).toEqual({ status: 'claimed' });
    // Only its own release (nothing was sent) gives it back.
    await ledger.release(alert, 'first');
    expect(await ledger.claim(alert, 'again')).toBe('claimed');
  });

  it('fault injection: before the effect nothing is stored, after it the effect stays', async () => {
    const { rejects, notifier } = createMemorySinks();
    const rec = { shardId: 's', sequenceNumber: '1', partitionKey: 'AAPL', data: 'e30=', reason: 'bad' };
    rejects.faults.failNext({ timing: 'before' });
    await expect(rejects.send([rec])).rejects.toThrow(
      /injected rejected-record sink failure \(before effect\)/,
    );
    expect(rejects.records).toHaveLength(0);
    rejects.faults.failNext({ timing: 'after' });
    await expect(rejects.send([rec])).rejects.toThrow(/after effect/);
    expect(rejects.records).toHaveLength(1);
    await rejects.send([rec]);
    expect(rejects.records).toHaveLength(2);
    await expect(notifier.publish({ ...alert, kind: '' })).rejects.toThrow(/kind must be a non-empty string/);
  });
});
