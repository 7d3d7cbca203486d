import type { KinesisClient, PutRecordsCommandInput, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';

/**
 * An SDK middleware that makes PutRecords fail some entries for real: the chosen entries are taken
 * out of the request before it is sent (so they never reach the stream) and put back into the
 * response as failed, exactly as Kinesis reports a partial failure. `shouldFail` sees each entry's
 * partition key and data (the encoded event).
 */
export function failSomeEntries(
  kinesis: KinesisClient,
  shouldFail: (partitionKey: string, data: Uint8Array) => boolean,
): { injected: number } {
  const stats = { injected: 0 };
  kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      const input = args.input as PutRecordsCommandInput;
      const records = input.Records ?? [];
      const fail = records.map((r) => shouldFail(r.PartitionKey!, r.Data!));
      const kept = records.filter((_, i) => !fail[i]);
      stats.injected += records.length - kept.length;
      let sent: PutRecordsCommandOutput['Records'] = [];
      let base: { output: PutRecordsCommandOutput; response: unknown } | undefined;
      if (kept.length > 0) {
        base = (await next({ ...args, input: { ...input, Records: kept } })) as typeof base;
        sent = base!.output.Records ?? [];
      }
      let k = 0;
      const merged = records.map((_, i) =>
        fail[i]
          ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'injected by the test' }
          : sent[k++]!,
      );
      const output: PutRecordsCommandOutput = {
        ...(base?.output ?? { $metadata: {} }),
        Records: merged,
        FailedRecordCount: merged.filter((r) => r.ErrorCode).length + (base?.output.FailedRecordCount ?? 0),
      };
      return { output, response: base?.response ?? {} } as never;
    },
    { step: 'initialize', name: 'failSomeEntries' },
  );
  return stats;
}
