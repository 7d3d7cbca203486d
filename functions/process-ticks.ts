// PLACEHOLDER so `sls package` has an entry point; the stream-processor owner replaces this file.
export const handler = async (): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> => ({
  batchItemFailures: [],
});
