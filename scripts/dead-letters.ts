/**
 * Reviews the processor's dead-letter queue and recovers the batches the event source mapping gave
 * up on (src/pipeline/recover/dead-letters.ts).
 *
 *   npm run dead-letters                 # list: rejected records with their reasons; per given-up
 *                                        # batch, its records read back, which lack their metric
 *                                        # row and which the raw zone lacks
 *   npm run dead-letters -- --recover    # also write the records the raw zone lacks to it and
 *                                        # delete the batches' messages
 *
 * Every message it does not delete is made visible again before it exits. Talks to AWS, or to the
 * local cloud when the TICKSTREAM_ENDPOINT_* variables are set (`npm start -- --cloud-only` prints
 * them). Exit 0 when every given-up range was read (and, with --recover, recovered) without error,
 * 1 otherwise, 2 for a usage error, 130 when stopped by Ctrl-C (143 by SIGTERM, 141 when its
 * output's reader went away) before every message was received and every range reviewed.
 */
import { parseArgs } from 'node:util';
import { createAwsClients } from '../src/adapters/aws/clients.ts';
import { DynamoDbMetricRowIndex } from '../src/adapters/aws/dynamodb-metric-row-index.ts';
import { KinesisRangeReader, KinesisShardMap } from '../src/adapters/aws/kinesis-range-reader.ts';
import { S3RawLakeReader } from '../src/adapters/aws/s3-lake-compaction.ts';
import { S3LakeWriter } from '../src/adapters/aws/s3-lake-writer.ts';
import { SqsDeadLetterQueue } from '../src/adapters/aws/sqs-dead-letter-queue.ts';
import { awsClientConfigFromEnv } from '../src/config/aws.ts';
import { interruptedBy, parsePositiveWhole, signalRepeats, UsageError } from '../src/pipeline/ingest/cli.ts';
import { analyticsEngines } from '../src/pipeline/process/analytics-engine.ts';
import {
  DEFAULT_MAX_MESSAGES,
  type DeadLetterReview,
  type GivenUpReview,
  MAX_MESSAGES_LIMIT,
  reviewDeadLetters,
} from '../src/pipeline/recover/dead-letters.ts';

const USAGE = `usage: npm run dead-letters -- [--recover] [--max N] [--json]
  --recover  write each valid record of a given-up batch whose (symbol, kind, time) the lake's raw
             zone lacks, and delete the batch's message once its range was read to its end
             (rejected records are only listed, never deleted)
  --max N    messages to review at most, a positive whole number (default 1000, at most 120000:
             SQS keeps at most 120,000 of a queue's messages in flight)
  --json     print the review as one JSON object (last stdout line) instead of text
env: DEAD_LETTER_QUEUE_URL, MARKET_TABLE_NAME, LAKE_BUCKET_NAME and TICKS_STREAM_NAME (both required
     with --recover; given-up batches of any other stream are kept as unreadable), AWS_REGION,
     TICKSTREAM_ENDPOINT_* (local cloud)`;

function required(name: string): string {
  const v = process.env[name];
  if (!v)
    throw new UsageError(
      `${name} is not set (the stack's resource; \`npm start -- --cloud-only\` prints the local one)`,
    );
  return v;
}

/**
 * With a parallelization factor above 1, Lambda splits a shard's records into lanes by partition
 * key: a given-up batch holds its lane's records between its first and last, and the range read
 * back also holds the other lanes' records between them (which Lambda's undocumented lane hash
 * does not let us tell apart). The counts are of the range; this says how many the batch held.
 */
function otherLanes(r: GivenUpReview): string {
  const held = r.letter.batchSize;
  return held !== undefined && r.read > held
    ? ` (the batch held ${held}; the range also holds other lanes' records, parallelization factor above 1)`
    : '';
}

function describeRange(r: GivenUpReview): string {
  const l = r.letter;
  const symbols = [...new Set(r.withoutRow.map((m) => m.symbol))].sort().join(',');
  return (
    `given up  ${l.shardId} ${l.startSequenceNumber}…${l.endSequenceNumber} (${l.condition}): ` +
    `${r.read} read back${otherLanes(r)}, ${r.stored} with their metric row, ${r.withoutRow.length} without${symbols ? ` (${symbols})` : ''}, ` +
    `${r.rejected.length} rejected` +
    (r.notInLake !== undefined ? `, ${r.notInLake} not in the lake` : '') +
    (r.lakeObjects.length > 0 ? `; written to ${r.lakeObjects.join(', ')}` : '') +
    (r.deleted ? '; message deleted' : '') +
    (r.error ? `; ERROR: ${r.error}` : '')
  );
}

function summary(review: DeadLetterReview, recover: boolean) {
  return {
    messages: review.messages,
    rejectedRecords: review.rejected.map((r) => ({
      shardId: r.shardId,
      sequenceNumber: r.sequenceNumber,
      partitionKey: r.partitionKey,
      reason: r.reason,
      copies: r.copies,
    })),
    unreadable: review.unreadable.map((u) => ({ messageId: u.id, reason: u.reason })),
    givenUp: review.givenUp.map((g) => ({
      shardId: g.letter.shardId,
      startSequenceNumber: g.letter.startSequenceNumber,
      endSequenceNumber: g.letter.endSequenceNumber,
      condition: g.letter.condition,
      // Records in the batch (Lambda's count); `read` and the rest are of the whole range, which
      // with a parallelization factor above 1 holds the other lanes' records too.
      batchSize: g.letter.batchSize ?? null,
      read: g.read,
      withRow: g.stored,
      withoutRow: g.withoutRow.map((r) => ({
        symbol: r.symbol,
        kind: r.kind,
        time: r.time,
        sequenceNumber: r.sequenceNumber,
      })),
      rejected: g.rejected,
      notInLake: g.notInLake ?? null,
      trimmed: g.trimmed,
      lakeObjects: g.lakeObjects,
      deleted: g.deleted,
      ...(g.error ? { error: g.error } : {}),
    })),
    recovered: recover,
    notReviewed: review.notReviewed,
    stopped: review.stopped,
    // The event days of the objects written (their keys' dt= partition).
    daysToCompact: [
      ...new Set(
        review.givenUp.flatMap((g) =>
          g.lakeObjects.map((key) => /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1] ?? key),
        ),
      ),
    ].sort(),
    ...(review.releaseError ? { releaseError: review.releaseError } : {}),
  };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      recover: { type: 'boolean', default: false },
      max: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const max = values.max === undefined ? DEFAULT_MAX_MESSAGES : parsePositiveWhole('max', values.max);
  // Beyond it SQS refuses the receive (too many messages in flight), and the run would end there.
  if (max > MAX_MESSAGES_LIMIT)
    throw new UsageError(
      `--max must be at most ${MAX_MESSAGES_LIMIT} (SQS keeps at most 120,000 of a queue's messages in flight), got ${max}`,
    );
  const queueUrl = required('DEAD_LETTER_QUEUE_URL');
  const tableName = required('MARKET_TABLE_NAME');
  // The raw zone is read when it is named (the review then says what it lacks), and must be to recover.
  const bucket = values.recover ? required('LAKE_BUCKET_NAME') : process.env.LAKE_BUCKET_NAME || undefined;
  // Given-up batches of any other stream are not this stage's: listed as unreadable, never recovered.
  const streamName = values.recover
    ? required('TICKS_STREAM_NAME')
    : process.env.TICKS_STREAM_NAME || undefined;

  const clients = createAwsClients(awsClientConfigFromEnv());
  // Ctrl-C or SIGTERM: stop before the next range and still make the received messages visible
  // again. A deliberate repeat (signalRepeats: not the forwarded copy of the first) quits at once,
  // leaving the messages hidden until their 15 minutes are up.
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals = 'SIGINT';
  const repeat = signalRepeats();
  const onSignal = (signal: NodeJS.Signals) => {
    if (repeat() > 0) {
      console.error(
        `dead-letters: ${signal} again: quitting, the messages received stay hidden for 15 minutes`,
      );
      process.exit(interruptedBy(signal));
    }
    if (stop.signal.aborted) return;
    stoppedBy = signal;
    console.error('dead-letters: stopping after the current range…');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Its reader gone (`| head`, `less` quit early): the next line would end the process on EPIPE with
  // the messages hidden; it stops instead, as a command a SIGPIPE ends (exit 141), releasing them.
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      if (stop.signal.aborted) return;
      stoppedBy = 'SIGPIPE';
      console.error('dead-letters: output closed: stopping after the current range…');
      stop.abort();
    });
  }
  try {
    const review = await reviewDeadLetters(
      {
        queue: new SqsDeadLetterQueue({ sqs: clients.sqs, queueUrl }),
        stream: new KinesisRangeReader({ kinesis: clients.kinesis }),
        shards: new KinesisShardMap({ kinesis: clients.kinesis }),
        rows: new DynamoDbMetricRowIndex({ documents: clients.documents, tableName }),
        engines: analyticsEngines(), // the processor's (functions/process-ticks.ts)
        ...(bucket
          ? {
              lake: new S3LakeWriter({ s3: clients.s3, bucket }),
              raw: new S3RawLakeReader({ s3: clients.s3, bucket }),
            }
          : {}),
      },
      {
        recover: values.recover,
        max,
        signal: stop.signal,
        ...(streamName ? { streamName } : {}),
        ...(values.json ? {} : { onRange: (r) => console.log(describeRange(r)) }),
      },
    );
    const s = summary(review, values.recover);
    const errors = s.givenUp.filter((g) => g.error).length + (s.releaseError ? 1 : 0);
    // As many messages as --max allowed: the review stopped there, and more may wait in the queue.
    const stoppedAtMax = s.messages >= max;
    if (values.json) {
      console.log(JSON.stringify({ ...s, stoppedAtMax }));
    } else {
      for (const r of s.rejectedRecords) {
        console.log(
          `rejected  ${r.shardId} ${r.sequenceNumber} ${r.partitionKey}: ${r.reason}${r.copies > 1 ? ` (${r.copies} messages)` : ''}`,
        );
      }
      for (const u of s.unreadable) console.log(`unreadable message ${u.messageId}: ${u.reason}`);
      const withoutRow = s.givenUp.reduce((n, g) => n + g.withoutRow.length, 0);
      console.log(
        `${s.messages} message(s): ${s.rejectedRecords.length} rejected record(s), ${s.givenUp.length} given-up batch(es) ` +
          `(${withoutRow} records without their metric row), ${s.unreadable.length} unreadable; ` +
          `${s.givenUp.filter((g) => g.deleted).length} deleted, the rest left in the queue` +
          (stoppedAtMax ? ` (stopped at --max ${max}: more may wait)` : ''),
      );
      if (s.notReviewed > 0)
        console.log(`stopped: ${s.notReviewed} given-up batch(es) not reviewed, their messages kept`);
      else if (s.stopped) console.log('stopped while receiving: more messages may wait, not reviewed');
      if (s.releaseError)
        console.log(
          `could not make the messages visible again (they reappear within 15 minutes): ${s.releaseError}`,
        );
      if (s.daysToCompact.length > 0) {
        console.log(
          `days written: ${s.daysToCompact.join(', ')}. The next nightly compaction includes them (an older day ` +
            'is marked pending); to compact one at once: npx sls invoke -f compactLake --stage <stage> --data \'{"day": "YYYY-MM-DD"}\'',
        );
      } else if (!values.recover && s.givenUp.length > 0) {
        console.log("run again with --recover to write the given-up batches' records to the lake");
      }
    }
    // 130 after Ctrl-C (143 after SIGTERM, 141 without a reader), as a shell reports it.
    return s.stopped ? interruptedBy(stoppedBy) : errors > 0 ? 1 : 0;
  } finally {
    clients.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`dead-letters: ${(err as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`dead-letters: ${(err as Error).message}`);
    process.exit(1);
  },
);
