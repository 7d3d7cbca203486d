import type { LocalCloud, StateCount } from './local-cloud.ts';

/** Human-readable lines describing a running local cloud: endpoints, resources, state. */

function count(c: StateCount | undefined, unit: string): string {
  if (!c) return '';
  return ` — ${c.complete ? '' : '≥ '}${c.count} ${unit}${c.count === 1 ? '' : 's'}`;
}

export function describeLocalCloud(cloud: LocalCloud): string[] {
  const { resources: r, state } = cloud;
  const lines: string[] = [];
  lines.push(`tickstream local cloud — stage ${cloud.stage}, region ${cloud.region}`);
  lines.push('');
  lines.push('endpoints (127.0.0.1 only):');
  for (const [service, url] of Object.entries(cloud.endpoints)) lines.push(`  ${service.padEnd(10)} ${url}`);
  lines.push('');
  lines.push('resources from the template:');
  for (const s of Object.values(r.streams))
    lines.push(
      `  kinesis stream  ${s.name} (${s.logicalId}; ${s.mode === 'ON_DEMAND' ? 'on-demand, ' : ''}` +
        `${s.shardIds.length} shard${s.shardIds.length === 1 ? '' : 's'}, ${s.retentionHours} h retention)` +
        count(state.counts.streams[s.logicalId], 'record'),
    );
  for (const t of Object.values(r.tables))
    lines.push(
      `  dynamodb table  ${t.name} (${t.logicalId}; key ${t.keySchema.map((k) => `${k.AttributeName} ${k.KeyType}`).join(', ')}` +
        `${t.indexes.length ? `; indexes ${t.indexes.join(', ')}` : ''}${t.ttlAttribute ? `; TTL ${t.ttlAttribute}, not expired locally` : ''})` +
        count(state.counts.tables[t.logicalId], 'item'),
    );
  for (const b of Object.values(r.buckets))
    lines.push(
      `  s3 bucket       ${b.name} (${b.logicalId})${count(state.counts.buckets[b.logicalId], 'object')}`,
    );
  for (const q of Object.values(r.queues)) {
    const attrs = Object.entries(q.attributes)
      .filter(([k]) => k !== 'RedrivePolicy')
      .map(([k, v]) => `${k} ${v}`);
    if (q.attributes.RedrivePolicy) {
      const rp = JSON.parse(q.attributes.RedrivePolicy) as {
        deadLetterTargetArn: string;
        maxReceiveCount: number;
      };
      attrs.push(`redrive to ${rp.deadLetterTargetArn.split(':').pop()} after ${rp.maxReceiveCount}`);
    }
    lines.push(
      `  sqs queue       ${q.url} (${q.logicalId}${attrs.length ? `; ${attrs.join(', ')}` : ''})` +
        count(state.counts.queues[q.logicalId], 'message'),
    );
  }
  for (const [id, arn] of Object.entries(cloud.sns.topics)) lines.push(`  sns topic       ${arn} (${id})`);
  for (const sub of cloud.sns.subscriptions)
    lines.push(
      `  sns inbox       ${sub.queueUrl} (${sub.logicalId}: ${sub.protocol} ${sub.endpoint ?? ''}` +
        `${sub.filterPolicy ? `, filter ${sub.filterPolicy}` : ''})`,
    );
  for (const s of cloud.sns.skipped)
    lines.push(`  not created     ${s.logicalId} (AWS::SNS::Subscription): ${s.reason}`);
  for (const s of r.skipped) lines.push(`  not created     ${s.logicalId} (${s.type}): ${s.reason}`);
  const others = Object.entries(r.notEmulated);
  if (others.length)
    lines.push(
      `  no local part   ${others.map(([type, n]) => `${n} ${type.replace(/^AWS::/, '')}`).join(', ')}`,
    );
  lines.push('');
  if (!state.persistent) lines.push('state: ephemeral (a temp directory, deleted on stop)');
  else if (state.foundEarlierState)
    lines.push(
      `state: ${state.dir} — continued from an earlier run` +
        (state.previousRun === 'unclean' ? ' (which did not stop cleanly; recovered)' : ''),
    );
  else lines.push(`state: ${state.dir} — new (nothing from an earlier run)`);
  if (cloud.desShim)
    lines.push('s3: ListObjectsV2 continuation tokens via the 3DES shim (no legacy OpenSSL provider)');
  lines.push('');
  lines.push('environment for the functions and scripts (paste into another shell):');
  for (const [k, v] of Object.entries(cloud.env)) lines.push(`  export ${k}=${v}`);
  return lines;
}
