/**
 * The execution environments of one function, as Lambda keeps them: each concurrent invocation runs
 * in an environment of its own, and an environment whose invocation is done is reused, warm, by a
 * later one. Locally an environment is a separate instance of the handler's module: the file imported
 * under a URL of its own (`…/process-ticks.ts?pool=1&environment=2`). The ES module cache is keyed
 * by URL, so the module's top level runs again for each environment — its own configuration read,
 * Powertools Logger, Metrics and Tracer, AWS clients and warm caches — while the modules it imports
 * stay the process's single instances (their module-scope state, memo caches and scratch buffers used
 * synchronously, is shared, where each Lambda environment would have a copy of its own).
 *
 * An invocation takes the idle environment used most recently (warm), or creates one (a cold start)
 * when every environment is busy: there are as many as the invocations that ever overlapped (the
 * event source mapping's shards × parallelization factor at most). None is ever retired. Each pool
 * starts with fresh environments: a second pool of the same file in one process (a pipeline started
 * again) shares none of the first one's.
 */
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';

export type LambdaHandler<TEvent, TResult> = (event: TEvent, context: Context) => Promise<TResult>;

export interface HandlerEnvironmentsOptions {
  /** Absolute path of the handler's module (`…/functions/process-ticks.ts`). */
  readonly modulePath: string;
  /** The handler's export in it (`handler` of `functions/process-ticks.handler`). */
  readonly exportName: string;
  /**
   * Runs right before each environment's module is evaluated: a handler reads its configuration at
   * import, so this is where the function's environment variables are set. Environments are created
   * one at a time in the process, so two pools' settings never interleave.
   */
  readonly beforeInit?: () => void;
  /** Told of each cold start after the first environment's (`cold start of environment 2`). */
  readonly log?: (line: string) => void;
}

interface Environment<TEvent, TResult> {
  readonly id: number;
  readonly handler: LambdaHandler<TEvent, TResult>;
}

/** Pools started in this process: each one's module URLs are its own. */
let pools = 0;
/** The latest environment creation of the process: the next one starts after it. */
let initializing: Promise<unknown> = Promise.resolve();

export class HandlerEnvironments<TEvent, TResult> {
  readonly #options: HandlerEnvironmentsOptions;
  readonly #url: string;
  /** Idle environments, the most recently used last. */
  readonly #idle: Environment<TEvent, TResult>[] = [];
  #lastId = 0;
  #size = 0;

  private constructor(options: HandlerEnvironmentsOptions) {
    this.#options = options;
    this.#url = `${pathToFileURL(options.modulePath).href}?pool=${++pools}`;
  }

  /**
   * A pool with its first environment created: a module that fails to load, or has no such function
   * export, fails here, before any invocation.
   */
  static async start<TEvent, TResult>(
    options: HandlerEnvironmentsOptions,
  ): Promise<HandlerEnvironments<TEvent, TResult>> {
    const pool = new HandlerEnvironments<TEvent, TResult>(options);
    pool.#idle.push(await pool.#create());
    return pool;
  }

  /** Environments created so far, busy or idle. */
  get size(): number {
    return this.#size;
  }

  /**
   * Runs the handler in an idle environment (the most recently used) or in a new one; the environment
   * is idle again once the handler has returned or thrown. A cold start that fails fails the invocation
   * (as a Lambda init error does); the next cold start evaluates the module afresh.
   */
  async invoke(event: TEvent, context: Context): Promise<TResult> {
    const environment = this.#idle.pop() ?? (await this.#create());
    try {
      return await environment.handler(event, context);
    } finally {
      this.#idle.push(environment);
    }
  }

  async #create(): Promise<Environment<TEvent, TResult>> {
    const id = ++this.#lastId;
    if (id > 1) this.#options.log?.(`cold start of environment ${id}`);
    const { modulePath, exportName, beforeInit } = this.#options;
    const loading = initializing.then(() => {
      beforeInit?.();
      return import(`${this.#url}&environment=${id}`) as Promise<Record<string, unknown>>;
    });
    initializing = loading.catch(() => {});
    const handler = (await loading)[exportName];
    if (typeof handler !== 'function') throw new Error(`${modulePath} exports no function ${exportName}`);
    this.#size++;
    return { id, handler: handler as LambdaHandler<TEvent, TResult> };
  }
}
