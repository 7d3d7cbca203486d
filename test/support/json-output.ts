import { vi } from 'vitest';

export type JsonLine = Record<string, unknown>;

/**
 * Runs `work` with stdout and stderr captured instead of printed, and returns the JSON lines written
 * meanwhile: what a handler's Powertools logger and metrics (EMF) send to CloudWatch Logs.
 */
export async function captureJsonLines<T>(work: () => Promise<T>): Promise<{ result: T; lines: JsonLine[] }> {
  const lines: JsonLine[] = [];
  const capture = (chunk: unknown) => {
    for (const l of String(chunk).split('\n')) {
      if (!l.trim().startsWith('{')) continue;
      try {
        lines.push(JSON.parse(l) as JsonLine);
      } catch {
        // not one of the handler's JSON lines
      }
    }
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    return { result: await work(), lines };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** An EMF line's metrics as CloudWatch files them: namespace, dimension set, metric name. */
export function emfMetrics(
  lines: readonly JsonLine[],
): { namespace: string; dimensions: string[]; name: string }[] {
  return lines.flatMap((line) => {
    const aws = line._aws as
      | { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }
      | undefined;
    return (aws?.CloudWatchMetrics ?? []).flatMap((d) =>
      d.Dimensions.flatMap((dimensions) =>
        d.Metrics.map((m) => ({ namespace: d.Namespace, dimensions, name: m.Name })),
      ),
    );
  });
}
