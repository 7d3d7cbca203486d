/**
 * The local execution environments of a function (HandlerEnvironments): each concurrent invocation
 * in an instance of the handler's module of its own, an idle one reused warm, as Lambda does.
 * The fixture module numbers its instances and counts each one's invocations.
 */
import { resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { HandlerEnvironments } from '../../../scripts/pipeline/handler-environments.ts';
import { lambdaContext } from '../../../scripts/pipeline/local-pipeline.ts';
import type { FixtureEvent, FixtureResult } from '../../fixtures/handler-environments/handler.ts';

const MODULE = resolve(import.meta.dirname, '../../fixtures/handler-environments/handler.ts');
const SETTING = 'HANDLER_ENVIRONMENTS_SETTING';
const context: Context = lambdaContext('fixture');

afterEach(() => {
  delete process.env[SETTING];
});

/** A pool of the fixture whose environments read `setting()` at init; its cold-start lines in `log`. */
async function fixturePool(setting: () => string = () => 'set') {
  const log: string[] = [];
  const pool = await HandlerEnvironments.start<FixtureEvent, FixtureResult>({
    modulePath: MODULE,
    exportName: 'handler',
    beforeInit: () => {
      process.env[SETTING] = setting();
    },
    log: (line) => log.push(line),
  });
  return { pool, log };
}

function gate() {
  let open!: () => void;
  const until = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { until, open };
}

describe('HandlerEnvironments', () => {
  it('runs overlapping invocations in environments of their own, each a module instance with its own state', async () => {
    let inits = 0;
    const { pool, log } = await fixturePool(() => `init ${++inits}`);
    expect(pool.size).toBe(1);
    const [a, b] = [gate(), gate()];
    const first = pool.invoke({ until: a.until }, context);
    const second = pool.invoke({ until: b.until }, context);
    b.open();
    a.open();
    const [one, two] = await Promise.all([first, second]);
    expect(one.instance).not.toBe(two.instance);
    // Each counted only its own invocation, and read its configuration at its own init.
    expect([one.invocation, two.invocation]).toEqual([1, 1]);
    expect([one.setting, two.setting]).toEqual(['init 1', 'init 2']);
    expect(pool.size).toBe(2);
    expect(log).toEqual(['cold start of environment 2']);
  });

  it('reuses an idle environment, warm, for the next invocation: the most recently used one', async () => {
    const { pool, log } = await fixturePool();
    const sequential: FixtureResult[] = [];
    for (let i = 0; i < 3; i++) sequential.push(await pool.invoke({}, context));
    expect(new Set(sequential.map((r) => r.instance)).size).toBe(1);
    expect(sequential.map((r) => r.invocation)).toEqual([1, 2, 3]);
    expect(pool.size).toBe(1);
    expect(log).toEqual([]);

    // Two overlapping: the second environment is done last, so the next invocation runs in it.
    const [a, b] = [gate(), gate()];
    const first = pool.invoke({ until: a.until }, context);
    const second = pool.invoke({ until: b.until }, context);
    a.open();
    const one = await first;
    b.open();
    const two = await second;
    expect(one.instance).toBe(sequential[0]!.instance);
    expect(two.instance).not.toBe(one.instance);
    const next = await pool.invoke({}, context);
    expect(next).toMatchObject({ instance: two.instance, invocation: 2 });
    expect(pool.size).toBe(2);
  });

  it('gives back an environment whose invocation threw', async () => {
    const { pool } = await fixturePool();
    await expect(pool.invoke({ fail: true }, context)).rejects.toThrow(
      /^invocation 1 of instance \d+ failed$/,
    );
    const next = await pool.invoke({}, context);
    expect(next.invocation).toBe(2);
    expect(pool.size).toBe(1);
  });

  it('fails a cold start whose init throws, and evaluates the module afresh at the next one', async () => {
    let setting = 'set';
    const { pool, log } = await fixturePool(() => setting);
    const a = gate();
    const busy = pool.invoke({ until: a.until }, context);
    setting = 'fail init';
    await expect(pool.invoke({}, context)).rejects.toThrow(/^init of instance \d+ failed$/);
    expect(pool.size).toBe(1);
    setting = 'set again';
    expect(await pool.invoke({}, context)).toMatchObject({ invocation: 1, setting: 'set again' });
    a.open();
    expect(await busy).toMatchObject({ invocation: 1, setting: 'set' });
    expect(pool.size).toBe(2);
    expect(log).toEqual(['cold start of environment 2', 'cold start of environment 3']);
  });

  it('fails at start, before any invocation, for a bad export or a module that does not load', async () => {
    await expect(
      HandlerEnvironments.start({ modulePath: MODULE, exportName: 'notAFunction' }),
    ).rejects.toThrow(`${MODULE} exports no function notAFunction`);
    await expect(HandlerEnvironments.start({ modulePath: MODULE, exportName: 'missing' })).rejects.toThrow(
      `${MODULE} exports no function missing`,
    );
    await expect(
      HandlerEnvironments.start({
        modulePath: MODULE,
        exportName: 'handler',
        beforeInit: () => {
          process.env[SETTING] = 'fail init';
        },
      }),
    ).rejects.toThrow(/^init of instance \d+ failed$/);
  });
});
