// PLACEHOLDER so `sls package` has an entry point; the ingestion owner replaces this file.
export const handler = async (): Promise<{ placeholder: true }> => ({ placeholder: true });
