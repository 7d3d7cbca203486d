import { z } from 'zod';

/**
 * An on/off environment variable, the same for every function: `true` or `1` is on; `false`, `0`,
 * empty or unset is off (an uncommented `NAME=` line of .env.example included); anything else fails
 * at cold start, naming the variable.
 */
export const envFlag = (name: string) =>
  z
    .enum(['true', 'false', '1', '0', ''], { error: `${name} must be true or false (or 1 or 0)` })
    .default('false')
    .transform((v) => v === 'true' || v === '1');
