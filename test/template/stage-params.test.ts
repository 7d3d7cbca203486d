import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DEFAULT_SCHEMA, load, Type } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT, synthesizeTemplate } from '../../scripts/template/synthesize.ts';
import { DEFAULT_YAHOO_TIMEOUT_MS, POLL_FLUSH_MARGIN_MS } from '../../src/config/ingest.ts';
import { PENDING_DAY_MARGIN_MS } from '../../src/pipeline/compact/compact-day.ts';

const require = createRequire(import.meta.url);
const { validateStageParams, STAGE_NAME } = require(join(PROJECT_ROOT, 'resources', 'stage-params.cjs')) as {
  validateStageParams: (
    stage: string,
    params: Record<string, unknown>,
    names: { known: readonly string[]; given: readonly string[] },
  ) => Record<string, unknown>;
  STAGE_NAME: RegExp;
};

/** serverless.yml's params, as written (the ${…} variables elsewhere are left unresolved strings). */
const CLOUDFORMATION_TAGS = DEFAULT_SCHEMA.extend(
  ['Ref', 'GetAtt', 'Sub'].map((tag) => new Type(`!${tag}`, { kind: 'scalar' })),
);
const declared = (
  load(readFileSync(join(PROJECT_ROOT, 'serverless.yml'), 'utf8'), { schema: CLOUDFORMATION_TAGS }) as {
    params: Record<string, Record<string, unknown>>;
  }
).params;
const defaults = declared.default as Record<string, unknown>;
const known = Object.keys(defaults);

/**
 * What the module resolves: each of params.default's names as osls resolves it (--param string,
 * else the stage's own value, else the default).
 */
function paramsOf(stage: string, cli: Record<string, string> = {}): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...defaults, ...(declared[stage] ?? {}), ...cli };
  return Object.fromEntries(known.map((name) => [name, merged[name]]));
}

function check(stage: string, cli: Record<string, string> = {}) {
  const given = [...Object.keys(declared[stage] ?? {}), ...Object.keys(cli)];
  return validateStageParams(stage, paramsOf(stage, cli), { known, given });
}

describe('stage params validation', () => {
  it('accepts every stage as shipped, typing numbers and flags from YAML or the command line', () => {
    for (const stage of ['dev', 'staging', 'prod']) expect(() => check(stage)).not.toThrow();
    const typed = check('prod', { processorBatchSize: '250', timestreamEnabled: 'true' });
    expect(typed.processorBatchSize).toBe(250);
    expect(typed.processorMaxRetries).toBe(5);
    expect(typed.timestreamEnabled).toBe('true');
    expect(typed.tableDeletionProtection).toBe('true'); // YAML's boolean true, as CloudFormation reads it
  });

  it('refuses values AWS would refuse, naming the param, the rule and the value', () => {
    const cases: [Record<string, string>, string][] = [
      [{ processorBatchSize: '0' }, 'param processorBatchSize: must be at least 1 (got "0")'],
      [{ processorBatchSize: '10001' }, 'param processorBatchSize: must be at most 10000 (got "10001")'],
      [{ processorBatchSize: '1.5' }, 'param processorBatchSize: must be a whole number (got "1.5")'],
      [{ processorBatchSize: 'lots' }, 'param processorBatchSize: must be a whole number (got "lots")'],
      [{ processorMaxRetries: '-1' }, 'param processorMaxRetries: must be at least 0 (got "-1")'],
      [{ processorParallelizationFactor: '11' }, 'param processorParallelizationFactor: must be at most 10'],
      [{ processorBatchWindowSeconds: '301' }, 'param processorBatchWindowSeconds: must be at most 300'],
      [{ processorMaxRecordAgeSeconds: '59' }, 'param processorMaxRecordAgeSeconds: must be at least 60'],
      [{ streamRetentionHours: '23' }, 'param streamRetentionHours: must be at least 24'],
      [
        { streamMode: 'on_demand' },
        'param streamMode: must be one of ON_DEMAND, PROVISIONED (got "on_demand")',
      ],
      [{ timestreamEnabled: 'TRUE' }, 'param timestreamEnabled: must be one of true, false (got "TRUE")'],
      [
        { tableBillingMode: 'ON_DEMAND' },
        'param tableBillingMode: must be one of PAY_PER_REQUEST, PROVISIONED',
      ],
      [{ logRetentionDays: '10' }, "param logRetentionDays: must be one of CloudWatch Logs' retention days"],
      [{ logLevel: 'VERBOSE' }, 'param logLevel: must be one of TRACE, DEBUG, INFO'],
      [{ processorMemoryMb: '64' }, 'param processorMemoryMb: must be at least 128'],
      [{ compactionTimeoutSeconds: '901' }, 'param compactionTimeoutSeconds: must be at most 900'],
      [{ pollIntervalSeconds: '10' }, 'param pollIntervalSeconds: must be at least 30'],
      [{ lakeInfrequentAccessDays: '7' }, 'param lakeInfrequentAccessDays: must be at least 30'],
      [{ athenaBytesScannedCutoff: '1000' }, 'param athenaBytesScannedCutoff: must be at least 10000000'],
      [{ tableTargetUtilizationPercent: '95' }, 'param tableTargetUtilizationPercent: must be at most 90'],
      [{ tableTradingHoursTimezone: 'america/new_york' }, 'param tableTradingHoursTimezone: must be an IANA'],
      [{ tableTradingHoursTimezone: 'EST' }, 'param tableTradingHoursTimezone: must be an IANA time zone'],
      [{ tableTradingHoursTimezone: 'America/NEW_YORK' }, 'param tableTradingHoursTimezone: must be an IANA'],
      [{ tableTradingHoursTimezone: 'Etc/utc' }, 'param tableTradingHoursTimezone: must be an IANA'],
      [{ symbols: ' ' }, 'param symbols: must name at least one symbol'],
      [
        { tableTradingHoursTimezone: 'New York' },
        'param tableTradingHoursTimezone: must be an IANA time zone',
      ],
      [
        { tableTradingHoursStartCron: 'cron(25 9 * * MON-FRI)' },
        'param tableTradingHoursStartCron: must be cron(',
      ],
      [
        { compactionSchedule: 'every night' },
        'param compactionSchedule: must be cron(minutes hours day-of-month month day-of-week year) or rate(',
      ],
    ];
    for (const [cli, message] of cases) {
      expect(() => check('dev', cli), JSON.stringify(cli)).toThrow(message);
    }
    expect(() => check('dev', { compactionSchedule: 'rate(6 hours)' })).not.toThrow();
    for (const tz of ['Asia/Kolkata', 'Europe/Kyiv', 'Etc/GMT+9', 'UTC', 'America/Argentina/Buenos_Aires']) {
      expect(() => check('dev', { tableTradingHoursTimezone: tz }), tz).not.toThrow();
    }
  });

  it('refuses a cron expression that sets both day fields, or neither, as EventBridge and Application Auto Scaling do', () => {
    // One of day-of-month and day-of-week must be '?' and the other not: cron(30 0 * * * *), a Unix
    // habit, has six fields yet would be refused by AWS only minutes into a deploy.
    const cases: [string, string][] = [
      ['compactionSchedule', 'cron(30 0 * * * *)'],
      ['compactionSchedule', 'cron(30 0 1 * MON *)'],
      ['compactionSchedule', 'cron(30 0 ? * ? *)'],
      ['tableTradingHoursStartCron', 'cron(25 9 * * MON-FRI *)'],
      ['tableTradingHoursEndCron', 'cron(5 16 ? * ? *)'],
    ];
    for (const [param, value] of cases) {
      expect(() => check('prod', { [param]: value }), value).toThrow(
        `param ${param}: one of day-of-month and day-of-week must be ? and the other not (got "${value}")`,
      );
    }
    for (const value of ['cron(30 0 * * ? *)', 'cron(0 12 1 * ? *)', 'cron(25 9 ? * MON-FRI *)']) {
      expect(
        () => check('prod', { compactionSchedule: value, tableTradingHoursStartCron: value }),
        value,
      ).not.toThrow();
    }
  });

  it('refuses a compaction timeout that would never reach a late (marked) day', () => {
    // The nightly run starts a marked day only with PENDING_DAY_MARGIN_MS left, after its own two days.
    const minimum = (2 * PENDING_DAY_MARGIN_MS) / 1000;
    for (const seconds of ['30', '60', String(minimum - 1)]) {
      expect(() => check('dev', { compactionTimeoutSeconds: seconds }), seconds).toThrow(
        `param compactionTimeoutSeconds: must be at least ${minimum}: the nightly run starts a late (marked) day only with ` +
          `${PENDING_DAY_MARGIN_MS / 1000} s left after its own two days, so with less no late day would ever be compacted (got "${seconds}")`,
      );
    }
    expect(() => check('dev', { compactionTimeoutSeconds: String(minimum) })).not.toThrow();
  });

  it('refuses an ingest timeout in which a poll could never send a request', () => {
    // The poll's deadline keeps one request's timeout and the flush margin; one more request's time
    // before it is the least a poll needs.
    const minimum = Math.ceil((2 * DEFAULT_YAHOO_TIMEOUT_MS + POLL_FLUSH_MARGIN_MS) / 1000);
    for (const seconds of ['3', '18', String(minimum - 1)]) {
      expect(() => check('dev', { ingestTimeoutSeconds: seconds }), seconds).toThrow(
        `param ingestTimeoutSeconds: must be at least ${minimum}: a poll keeps a Yahoo request's timeout ` +
          `(${DEFAULT_YAHOO_TIMEOUT_MS / 1000} s) and ${POLL_FLUSH_MARGIN_MS / 1000} s for its flush`,
      );
    }
    expect(() => check('dev', { ingestTimeoutSeconds: String(minimum) })).not.toThrow();
  });

  it('refuses a param that only makes sense against another', () => {
    expect(() => check('dev', { alarmIteratorAgeMs: '3600000' })).toThrow(
      'param alarmIteratorAgeMs: must be below processorMaxRecordAgeSeconds × 1000 (3600000)',
    );
    expect(() => check('prod', { alarmIteratorAgeMs: '3600000' })).not.toThrow(); // prod keeps records 6 h
    expect(() => check('dev', { processorMaxRecordAgeSeconds: '86401' })).toThrow(
      'param processorMaxRecordAgeSeconds: must be at most streamRetentionHours × 3600 (86400)',
    );
    expect(() => check('dev', { lakeGlacierInstantRetrievalDays: '59' })).toThrow(
      'param lakeGlacierInstantRetrievalDays: must be at least lakeInfrequentAccessDays + 30 (60)',
    );
    expect(() => check('dev', { tableWriteMinCapacity: '200' })).toThrow(
      'param tableWriteMinCapacity: must be at most tableWriteMaxCapacity (100)',
    );
    expect(() => check('dev', { tableTradingHoursWriteFloor: '4' })).toThrow(
      'param tableTradingHoursWriteFloor: must be between tableWriteMinCapacity (5) and tableWriteMaxCapacity (100)',
    );
    expect(() => check('dev', { processorMaxRecordAgeSeconds: '86400' })).not.toThrow(); // the boundary
    expect(() => check('dev', { tableTradingHoursReadFloor: '60' })).toThrow(
      'param tableTradingHoursReadFloor: must be between tableReadMinCapacity (5) and tableReadMaxCapacity (50)',
    );
  });

  it('refuses an e-mail address or a severity the subscriptions cannot take, with the other problems', () => {
    let message = '';
    try {
      check('dev', {
        alertEmails: 'trader@example.com,ops@example',
        alertEmailSeverities: 'high',
        opsEmails: 'oncall',
        processorBatchSize: '0',
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.split('\n').slice(1)).toEqual([
      '  - param alertEmails: "ops@example" is not an e-mail address (expected name@domain.tld) (got "trader@example.com,ops@example")',
      '  - param alertEmailSeverities: "high" is not a severity (expected some of info, warning, critical) (got "high")',
      '  - param opsEmails: "oncall" is not an e-mail address (expected name@domain.tld) (got "oncall")',
      '  - param processorBatchSize: must be at least 1 (got "0")',
    ]);
    expect(() =>
      check('dev', { alertEmails: 'a@example.com, b@example.org', alertEmailSeverities: 'critical,warning' }),
    ).not.toThrow();
  });

  it('refuses a param name the service does not have (a typo would deploy the default)', () => {
    expect(() => check('dev', { alertEmail: 'ops@example.com' })).toThrow(
      'param alertEmail: not a param of this service (params.default)',
    );
  });

  it('refuses stage names Athena or the alarm pattern cannot take, and reports every problem at once', () => {
    for (const stage of ['dev', 'prod', 'pr123', 'a']) expect(STAGE_NAME.test(stage)).toBe(true);
    for (const stage of ['Dev', 'pr-1', 'dev-x', '1dev', '', 'abcdefghijklmnopqrst']) {
      expect(STAGE_NAME.test(stage), stage).toBe(false);
    }
    let message = '';
    try {
      check('dev-x', { processorBatchSize: '0', streamMode: 'x', typo: '1' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.split('\n').slice(1)).toEqual([
      expect.stringMatching(/^ {2}- stage "dev-x": must be 1–19 lower-case letters and digits/),
      '  - param typo: not a param of this service (params.default)',
      '  - param streamMode: must be one of ON_DEMAND, PROVISIONED (got "x")',
      '  - param processorBatchSize: must be at least 1 (got "0")',
    ]);
  });

  it('has a rule for every param of params.default, and no rule for a param that is not there', () => {
    expect(() => validateStageParams('dev', { ...defaults, extra: 1 }, { known, given: [] })).toThrow(
      'param extra: no rule for it in resources/stage-params.cjs',
    );
    const { symbols: _dropped, ...withoutOne } = defaults;
    expect(() => validateStageParams('dev', withoutOne, { known, given: [] })).toThrow('param symbols:');
  });
});

describe('stage params at packaging', () => {
  it('fails `sls package` with the problems, before anything is built', async () => {
    await expect(
      synthesizeTemplate('staging', { params: { processorBatchSize: '0', alertEmail: 'ops@example.com' } }),
    ).rejects.toThrow(
      /invalid stage configuration:\n {2}- param alertEmail: not a param of this service[\s\S]*param processorBatchSize: must be at least 1/,
    );
  });
});
