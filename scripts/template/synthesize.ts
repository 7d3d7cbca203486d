/**
 * Synthesizes the CloudFormation template of serverless.yml offline (`sls package`, no AWS
 * credentials, no network) and caches it, so callers such as the local cloud get the template in
 * milliseconds when nothing that shapes it has changed.
 *
 * Cache key: SHA-256 of serverless.yml, every file under resources/, package-lock.json, the stage
 * and any --param overrides. Handler code (functions/, src/) is NOT part of the key: it changes
 * only code hashes (Lambda version logical IDs, S3 keys), never the resources the local cloud
 * creates. Pass { force: true } to re-synthesize anyway.
 *
 * CLI: node scripts/template/synthesize.ts [stage] [--force] [--param key=value ...] [--print]
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CloudFormationResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Condition?: string;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, unknown>;
}

export interface CloudFormationOutput {
  Value: unknown;
  Description?: string;
  Condition?: string;
  Export?: { Name: unknown };
}

export interface CloudFormationTemplate {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Parameters?: Record<string, unknown>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, CloudFormationResource>;
  Outputs?: Record<string, CloudFormationOutput>;
}

export interface SynthesizeOptions {
  /** Ignore the cache and run `sls package` again. */
  force?: boolean;
  /** Stage param overrides, passed as `--param key=value` (part of the cache key). */
  params?: Readonly<Record<string, string>>;
  /** Stops `sls package` (its process killed) and rejects, e.g. on Ctrl-C during a boot. */
  signal?: AbortSignal;
}

export const STAGES = ['dev', 'staging', 'prod'] as const;

/** Bump when the way templates are produced changes, to invalidate every cached template. */
const CACHE_FORMAT = 1;

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TMP_DIR = join(PROJECT_ROOT, '.tmp');
const CACHE_DIR = join(TMP_DIR, 'template-cache');
const PACKAGE_ROOT = join(TMP_DIR, 'sls-package');
const TEMPLATE_FILE = 'cloudformation-template-update-stack.json';

const SLS_TIMEOUT_MS = 180_000;

/** The stage names the service accepts (lower-case letters and digits; why: resources/stage-params.cjs). */
export const STAGE_NAME: RegExp = (
  createRequire(import.meta.url)('../../resources/stage-params.cjs') as { STAGE_NAME: RegExp }
).STAGE_NAME;
const PARAM_KEY = /^[a-zA-Z][a-zA-Z0-9]*$/;

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** The cache key: everything that shapes the synthesized resources. */
export async function templateInputsHash(stage: string, params: Readonly<Record<string, string>> = {}) {
  const hash = createHash('sha256');
  hash.update(`format:${CACHE_FORMAT}\nstage:${stage}\n`);
  for (const key of Object.keys(params).sort()) hash.update(`param:${key}=${params[key]}\n`);
  const files = [
    join(PROJECT_ROOT, 'serverless.yml'),
    ...(await filesUnder(join(PROJECT_ROOT, 'resources'))),
    ...(await filesUnder(join(PROJECT_ROOT, 'serverless-plugins'))),
    join(PROJECT_ROOT, 'package-lock.json'),
  ];
  for (const file of files) {
    hash.update(`file:${relative(PROJECT_ROOT, file)}\n`);
    hash.update(existsSync(file) ? await readFile(file) : '<missing>');
  }
  return hash.digest('hex').slice(0, 24);
}

function cacheFile(stage: string, key: string): string {
  return join(CACHE_DIR, `${stage}-${key}.json`);
}

/** What `sls package` and its plugins write in the directory they run in (never shared). */
const BUILD_DIRS = new Set(['.serverless', '.esbuild', '.tmp', '.local', '.git']);

/**
 * A private service directory for one `sls package`: a copy of each file at the project's top
 * (osls finds serverless.yml only as a regular file) and a link to each directory but the build
 * directories. The packager deletes `.serverless/` in the directory it runs in and the
 * esbuild plugin builds in `.esbuild/`: run in the project, every synthesis (a cache miss of the
 * local cloud, a test) deleted the `.serverless/` an operator's own `sls package` had left, and
 * concurrent ones shared one build directory.
 */
async function privateServiceDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const entry of await readdir(PROJECT_ROOT, { withFileTypes: true })) {
    if (BUILD_DIRS.has(entry.name)) continue;
    const from = join(PROJECT_ROOT, entry.name);
    if (entry.isFile()) await copyFile(from, join(dir, entry.name));
    else await symlink(from, join(dir, entry.name));
  }
  return dir;
}

async function runSlsPackage(
  stage: string,
  packageDir: string,
  tmpDir: string,
  params: Readonly<Record<string, string>>,
  signal: AbortSignal | undefined,
) {
  const slsBin = join(PROJECT_ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');
  if (!existsSync(slsBin)) {
    throw new Error(`synthesizeTemplate: ${slsBin} not found; run npm ci first`);
  }
  const args = [slsBin, 'package', '--stage', stage, '--package', packageDir];
  for (const [key, value] of Object.entries(params)) args.push('--param', `${key}=${value}`);
  signal?.throwIfAborted();
  const serviceDir = await privateServiceDir(join(dirname(packageDir), 'service'));
  return new Promise<void>((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: serviceDir,
      env: {
        ...process.env,
        TMPDIR: tmpDir, // osls leaves temp folders behind: a per-call dir under .tmp/, removed after
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        FORCE_COLOR: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    // A stopped packager is waited for (its 'close'): rejected at once, the caller's removal of the
    // private directory would race the bundler still writing there and leave its output behind.
    let failure: unknown;
    const stop = (reason: unknown, killSignal: NodeJS.Signals) => {
      failure ??= reason;
      child.kill(killSignal);
    };
    const onAbort = () => stop(signal?.reason, 'SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    // Never hang a caller (a test's beforeAll, the local cloud's boot) on a stuck packager.
    const timer = setTimeout(
      () =>
        stop(
          new Error(`sls package --stage ${stage} did not finish in ${SLS_TIMEOUT_MS} ms:\n${output.trim()}`),
          'SIGKILL',
        ),
      SLS_TIMEOUT_MS,
    );
    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (error) => {
      // The process could not be spawned (no 'close' follows): nothing of it is left running.
      if (child.pid === undefined) {
        settle();
        reject(failure ?? error);
      }
    });
    child.on('close', (code) => {
      settle();
      if (failure !== undefined) reject(failure);
      else if (code === 0) resolvePromise();
      else reject(new Error(`sls package --stage ${stage} failed with exit code ${code}:\n${output.trim()}`));
    });
  });
}

/**
 * The CloudFormation template `sls package --stage <stage>` produces, from the cache when
 * serverless.yml, resources/** and package-lock.json are unchanged.
 */
export async function synthesizeTemplate(
  stage = 'dev',
  opts?: { force?: boolean } & SynthesizeOptions,
): Promise<CloudFormationTemplate> {
  if (!STAGE_NAME.test(stage)) {
    throw new Error(
      `synthesizeTemplate: stage "${stage}" must match ${STAGE_NAME} (lower-case letters, digits)`,
    );
  }
  const params = opts?.params ?? {};
  for (const key of Object.keys(params)) {
    if (!PARAM_KEY.test(key))
      throw new Error(`synthesizeTemplate: param name "${key}" must match ${PARAM_KEY}`);
  }
  const key = await templateInputsHash(stage, params);
  const cached = cacheFile(stage, key);
  if (!opts?.force && existsSync(cached)) {
    return JSON.parse(await readFile(cached, 'utf8')) as CloudFormationTemplate;
  }

  // A private package dir per call, so concurrent callers (parallel test files) never collide.
  const workDir = join(PACKAGE_ROOT, `${stage}-${process.pid}-${randomUUID().slice(0, 8)}`);
  const packageDir = join(workDir, 'package');
  const tmpDir = join(workDir, 'tmp');
  await mkdir(CACHE_DIR, { recursive: true });
  await mkdir(tmpDir, { recursive: true });
  try {
    await runSlsPackage(stage, packageDir, tmpDir, params, opts?.signal);
    const text = await readFile(join(packageDir, TEMPLATE_FILE), 'utf8');
    const template = JSON.parse(text) as CloudFormationTemplate;
    const partial = `${cached}.${process.pid}.${randomUUID().slice(0, 8)}.partial`;
    await writeFile(partial, text);
    await rename(partial, cached); // atomic: readers never see a half-written cache entry
    await pruneStaleEntries(stage, key, params);
    return template;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Drops older cache entries of the same stage (only for plain, param-free synthesis). */
async function pruneStaleEntries(stage: string, keep: string, params: Readonly<Record<string, string>>) {
  if (Object.keys(params).length > 0) return;
  const names = await readdir(CACHE_DIR);
  const entry = new RegExp(`^${stage}-[0-9a-f]{24}\\.json$`);
  await Promise.all(
    names
      .filter((name) => entry.test(name) && name !== `${stage}-${keep}.json`)
      .map((name) => rm(join(CACHE_DIR, name), { force: true })),
  );
}

async function main(argv: string[]): Promise<void> {
  let stage = 'dev';
  let force = false;
  let print = false;
  const params: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--force') force = true;
    else if (arg === '--print') print = true;
    else if (arg === '--param') {
      const pair = argv[++i] ?? '';
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`--param expects key=value, got "${pair}"`);
      params[pair.slice(0, eq)] = pair.slice(eq + 1);
    } else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else stage = arg;
  }
  const started = performance.now();
  const template = await synthesizeTemplate(stage, { force, params });
  const ms = Math.round(performance.now() - started);
  if (print) {
    console.log(JSON.stringify(template, null, 2));
    return;
  }
  const resources = Object.entries(template.Resources);
  console.log(`stage ${stage}: ${resources.length} resources in ${ms} ms`);
  for (const [id, r] of resources)
    console.log(`  ${id.padEnd(48)} ${r.Type}${r.Condition ? ` [${r.Condition}]` : ''}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
