/**
 * Benchmark runner: `npm run bench` runs every part in this folder, `npm run bench -- indicators`
 * (or several names) runs just those. A part is a file `scripts/bench/<part>.ts` exporting
 *   export async function run(log: (line: string) => void): Promise<Record<string, unknown>>
 * Human-readable lines are printed as parts run; the LAST line printed is one JSON object of all
 * figures keyed by part (a part that throws is recorded as `{ "error": "…" }` and the exit code is 1).
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Part = (log: (line: string) => void) => Promise<Record<string, unknown>>;

const here = dirname(fileURLToPath(import.meta.url));

/** Bench parts present: every .ts file here except this runner and `_`-prefixed helpers. */
export function availableParts(dir = here): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'index.ts' && !f.startsWith('_') && !f.endsWith('.test.ts'))
    .map((f) => basename(f, '.ts'))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const available = availableParts();
  const wanted = argv.filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !available.includes(w));
  if (unknown.length > 0) {
    console.error(
      `unknown bench part(s): ${unknown.join(', ')}; available: ${available.join(', ') || '(none)'}`,
    );
    return 2;
  }
  const parts = wanted.length > 0 ? wanted : available;
  const figures: Record<string, unknown> = {};
  let failed = false;
  const started = performance.now();
  for (const part of parts) {
    const log = (line: string) => console.log(`[${part}] ${line}`);
    const t0 = performance.now();
    try {
      const mod = (await import(pathToFileURL(join(here, `${part}.ts`)).href)) as { run?: Part };
      if (typeof mod.run !== 'function') throw new Error(`scripts/bench/${part}.ts does not export run(log)`);
      figures[part] = await mod.run(log);
      log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? error.message : String(error);
      log(`FAILED: ${message}`);
      figures[part] = { error: message };
    }
  }
  console.log(`bench: ${parts.length} part(s) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify(figures));
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
