/**
 * Reviews the processor's dead-letter queue and recovers the batches the event source mapping gave
 * up on (src/pipeline/recover/dead-letters.ts).
 *
 *   npm run dead-letters                 # list: rejected records with their reasons; per given-up
 *                                        # batch, its records read back and which lack their row
 *   npm run dead-letters -- --recover    # also write those records to the lake's raw zone and
 *                                        # delete the given-up messages accounted for
 *
 * Every message it does not delete is made visible again before it exits. Talks to AWS, or to the
 * local cloud when the TICKSTREAM_ENDPOINT_* variables are set (`npm start -- --cloud-only` prints
 * them). Exit 0 when every given-up range was read (and, with --recover, recovered) without error,
 * 1 otherwise, 2 for a usage error.
 */
import { parseArgs } from 'node:util';
import { createAwsClients } from '../src/adapters/aws/clients.ts';
import { DynamoDbMetricRowIndex } from '../src/adapters/aws/dynamodb-metric-row-index.ts';
import { KinesisRangeReader } from '../src/adapters/aws/kinesis-range-reader.ts';
import { S3LakeWriter } from '../src/adapters/aws/s3-lake-writer.ts';
import { SqsDeadLetterQueue } from '../src/adapters/aws/sqs-dead-letter-queue.ts';
import { awsClientConfigFromEnv } from '../src/config/aws.ts';
import { UsageError } from '../src/pipeline/ingest/cli.ts';
import {
  type DeadLetter,
  type DeadLetterReview,
  eventDays,
  type GivenUpReview,
  reviewDeadLetters,
} from '../src/pipeline/recover/dead-letters.ts';

const USAGE = `usage: npm run dead-letters -- [--recover] [--max N] [--json]
  --recover  write the records of given-up batches that have no metric row to the lake's raw zone,
             and delete those batches' messages (rejected records are only listed, never deleted)
  --max N    messages to review at most (default 1000)
  --json     print the review as one JSON object (last stdout line) instead of text
env: DEAD_LETTER_QUEUE_URL, MARKET_TABLE_NAME, LAKE_BUCKET_NAME (with --recover), AWS_REGION,
     TICKSTREAM_ENDPOINT_* (local cloud)`;

function required(name: string): string {
  const v = process.env[name];
  if (!v)
    throw new UsageError(
      `${name} is not set (the stack's resource; \`npm start -- --cloud-only\` prints the local one)`,
    );
  return v;
}

function describeLetter(letter: DeadLetter, review?: GivenUpReview): string {
  switch (letter.kind) {
    case 'rejected':
      return `rejected  ${letter.shardId} ${letter.sequenceNumber} ${letter.partitionKey}: ${letter.reason}`;
    case 'unreadable':
      return `unreadable: ${letter.reason}`;
    case 'given-up': {
      const r = review!;
      const symbols = [...new Set(r.missing.map((m) => m.symbol))].sort().join(',');
      return (
        `given up  ${letter.shardId} ${letter.startSequenceNumber}…${letter.endSequenceNumber} (${letter.condition}): ` +
        `${r.read} read back${r.trimmed ? ' (its start is past the stream retention: earlier records are gone)' : ''}, ` +
        `${r.stored} stored, ${r.missing.length} missing${symbols ? ` (${symbols})` : ''}, ${r.rejected.length} bad input` +
        (r.lakeObjects.length > 0 ? `; recovered to ${r.lakeObjects.join(', ')}` : '') +
        (r.deleted ? '; message deleted' : '') +
        (r.error ? `; NOT recovered: ${r.error}` : '')
      );
    }
  }
}

function summary(review: DeadLetterReview, recover: boolean) {
  const missing = review.givenUp.flatMap((g) => g.missing);
  return {
    messages: review.messages,
    rejected: review.rejected.length,
    rejectedRecords: review.rejected.map((r) => ({
      shardId: r.shardId,
      sequenceNumber: r.sequenceNumber,
      partitionKey: r.partitionKey,
      reason: r.reason,
      copies: r.copies,
    })),
    unreadable: review.unreadable.length,
    givenUp: review.givenUp.length,
    recordsReadBack: review.givenUp.reduce((n, g) => n + g.read, 0),
    recordsStored: review.givenUp.reduce((n, g) => n + g.stored, 0),
    recordsMissing: missing.length,
    trimmedRanges: review.givenUp.filter((g) => g.trimmed).length,
    recovered: recover,
    lakeObjects: review.givenUp.flatMap((g) => g.lakeObjects),
    daysToCompact: recover ? eventDays(missing) : [],
    deleted: review.givenUp.filter((g) => g.deleted).length,
    errors: review.givenUp.filter((g) => g.error).map((g) => g.error),
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
  const max = values.max === undefined ? 1000 : Number(values.max);
  if (!Number.isInteger(max) || max < 1)
    throw new UsageError(`--max must be a whole number ≥ 1, got "${values.max}"`);
  const queueUrl = required('DEAD_LETTER_QUEUE_URL');
  const tableName = required('MARKET_TABLE_NAME');
  const bucket = values.recover ? required('LAKE_BUCKET_NAME') : undefined;

  const clients = createAwsClients(awsClientConfigFromEnv());
  try {
    const review = await reviewDeadLetters(
      {
        queue: new SqsDeadLetterQueue({ sqs: clients.sqs, queueUrl }),
        stream: new KinesisRangeReader({ kinesis: clients.kinesis }),
        rows: new DynamoDbMetricRowIndex({ documents: clients.documents, tableName }),
        ...(bucket ? { lake: new S3LakeWriter({ s3: clients.s3, bucket }) } : {}),
      },
      {
        recover: values.recover,
        max,
        ...(values.json ? {} : { onLetter: (l, r) => console.log(describeLetter(l, r)) }),
      },
    );
    const s = summary(review, values.recover);
    if (values.json) {
      console.log(JSON.stringify(s));
    } else {
      console.log(
        `${s.messages} message(s): ${s.rejected} rejected record(s), ${s.givenUp} given-up batch(es) ` +
          `(${s.recordsReadBack} records read back, ${s.recordsStored} stored, ${s.recordsMissing} missing), ` +
          `${s.unreadable} unreadable; ${s.deleted} deleted, the rest left in the queue`,
      );
      if (s.daysToCompact.length > 0) {
        console.log(
          `recovered records' days: ${s.daysToCompact.join(', ')}. The nightly compaction covers the two days ` +
            'before it; compact older ones with npx sls invoke -f compactLake --data \'{"day": "YYYY-MM-DD"}\'',
        );
      } else if (!values.recover && s.recordsMissing > 0) {
        console.log('run again with --recover to write the missing records to the lake');
      }
    }
    return s.errors.length > 0 ? 1 : 0;
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
