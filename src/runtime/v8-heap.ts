/**
 * Process-level setting of the V8 heap for the stream processor, applied once when a function's
 * module loads (before the first batch).
 *
 * V8 allocates objects made at a source location directly in the old generation ("pretenures"
 * them) once it has seen most of them survive a young-generation collection. A batch's per-record
 * objects (decoded events, metric rows, lake records) all live until the batch's writes return, so
 * collections that fall inside a batch teach V8 to pretenure them; from then on every record's
 * objects land in the old generation, die there a few milliseconds later, and cost full collections
 * instead of cheap young ones. Turning the heuristic off keeps them young (no other heap setting
 * changes). The processor bench measured about a quarter more records per CPU-second with it off
 * (`npm run bench -- processor`).
 *
 * `setFlagsFromString` is Node's documented way to set a V8 flag at run time (a Lambda cannot pass
 * V8 flags on the command line, and `NODE_OPTIONS` accepts only a few).
 */
import { setFlagsFromString } from 'node:v8';

/** Stops V8 from pretenuring short-lived per-record objects (setting the flag again changes nothing). */
export function keepBatchObjectsYoung(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
