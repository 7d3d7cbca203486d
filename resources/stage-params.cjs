// Checks the stage name and every stage param before anything is packaged or deployed, so that a
// bad value fails `sls package` / `sls deploy` at once with the param's name and the rule, instead
// of CloudFormation failing (and rolling back) minutes into a deploy, or a value being silently
// misread (`timestreamEnabled: TRUE` is not "true"; an iterator-age alarm above the record age
// limit could never fire). serverless.yml resolves `custom.stageParams` from this file; the rest
// of the configuration keeps reading the params with ${param:…}.
// - Names: every param given on the command line (--param) or under params.<stage> must be one
//   of params.default's (a typo would otherwise be ignored and the default deployed).
// - Values: each param's type and the range AWS accepts for the property it feeds.
// - Cross-param rules: where one value only makes sense against another.
// All problems are reported together. CommonJS on purpose: osls loads `${file(...)}` JavaScript
// sources with require().
'use strict';

const { z } = require('zod');
const { parseAlertSeverities, parseEmails } = require('./email-subscriptions.cjs');

/**
 * Lower-case letters and digits, starting with a letter, at most 19: the Glue database
 * `tickstream_<stage>` must be lower case for Athena; with no '-', the ops topic's and key's
 * `tickstream-<stage>-*` alarm pattern (resources/monitoring.yml) matches no other stage's alarms;
 * and `tickstream-<12-digit account>-<region, ≤ 14>-<stage>-lake` fits S3's 63 characters.
 */
const STAGE_NAME = /^[a-z][a-z0-9]{0,18}$/;

/** A number as YAML gives it, or the digits of a command-line string as that number. */
const fromDigits = (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v);

/** A whole number from YAML (number) or the command line (string), within [min, max]; `why` says why the minimum. */
const whole = (min, max, why) =>
  z.preprocess(
    fromDigits,
    z
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(min, `must be at least ${min}${why ? `: ${why}` : ''}`)
      .max(max, `must be at most ${max}`),
  );

/** One of a fixed set of strings, exactly as written. */
const oneOf = (values) =>
  z.preprocess(
    (v) => (typeof v === 'boolean' ? String(v) : v),
    z.enum(values, { error: `must be one of ${values.join(', ')}` }),
  );

const flag = oneOf(['true', 'false']);

/**
 * EventBridge and Application Auto Scaling (which takes EventBridge's cron) refuse a cron expression
 * that sets both day-of-month and day-of-week, or neither: exactly one of them is '?'. A Unix habit
 * such as cron(30 0 * * * *) has six fields, and AWS would refuse it only minutes into a deploy.
 */
const oneDayField = (v) => {
  const fields = /^cron\((.*)\)$/.exec(v)?.[1].split(' ');
  return fields?.length !== 6 || (fields[2] === '?') !== (fields[4] === '?'); // the shape is checked apart
};
const ONE_DAY_FIELD = 'one of day-of-month and day-of-week must be ? and the other not';

/** EventBridge / Application Auto Scaling cron: six fields. */
const cron = z
  .string({ error: 'must be a cron(...) expression' })
  .regex(/^cron\(\S+( \S+){5}\)$/, 'must be cron(minutes hours day-of-month month day-of-week year)')
  .refine(oneDayField, ONE_DAY_FIELD);

/** An EventBridge schedule: cron(...) with six fields or rate(N unit). */
const schedule = z
  .string({ error: 'must be a cron(...) or rate(...) expression' })
  .regex(
    /^(cron\(\S+( \S+){5}\)|rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\))$/,
    'must be cron(minutes hours day-of-month month day-of-week year) or rate(N minutes|hours|days)',
  )
  .refine(oneDayField, ONE_DAY_FIELD);

/**
 * An IANA zone name (Area/Location, Etc/…, or UTC) that the runtime knows. Intl alone also takes
 * `EST`, `+05:00` or other casings, which AWS does not; its own list of names is CLDR's, which lacks
 * current IANA names such as Asia/Kolkata or Europe/Kyiv.
 */
const IANA_SHAPE =
  /^(UTC|(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)(\/[A-Z][A-Za-z0-9_+-]*)+)$/;
const timeZone = z.string().refine((tz) => {
  if (!IANA_SHAPE.test(tz)) return false;
  try {
    // Intl resolves an alias to CLDR's name (Asia/Kolkata → Asia/Calcutta), and other casings of a
    // name to the name: only the latter is refused.
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    return resolved === tz || resolved.toLowerCase() !== tz.toLowerCase();
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as America/New_York');

/** A comma string or YAML list (items checked by checkedList below). */
const list = z.union([z.string(), z.array(z.string())], { error: 'must be a comma-separated list' });

/**
 * A list whose items `parse` checks (email-subscriptions.cjs, which builds the subscriptions from
 * it, throws `param <name>: <problem>`): a bad address is reported here with the other problems.
 */
const checkedList = (parse) =>
  list.superRefine((value, ctx) => {
    try {
      parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: String(error.message).replace(/^param \w+: /, '') });
    }
  });

/** CloudWatch Logs' retention choices (AWS::Logs::LogGroup RetentionInDays). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

const lambdaMemoryMb = whole(128, 10240);
const lambdaTimeoutSeconds = whole(1, 900);

/**
 * The nightly compaction starts a late (marked) day only with PENDING_DAY_MARGIN_MS (60 s) left
 * after its own two days (src/pipeline/compact/compact-day.ts; a template test holds the two
 * together): with a shorter timeout than that margin and a minute for its own days, no late day —
 * a backfill's, a replay's — would ever be compacted, and nothing would say so.
 */
const PENDING_DAY_MARGIN_SECONDS = 60;
const compactionTimeoutSeconds = whole(
  2 * PENDING_DAY_MARGIN_SECONDS,
  900,
  `the nightly run starts a late (marked) day only with ${PENDING_DAY_MARGIN_SECONDS} s left after its own two days, so with less no late day would ever be compacted`,
);

/**
 * A poll's deadline leaves one Yahoo request's timeout (DEFAULT_YAHOO_TIMEOUT_MS, 8 s: the template
 * sets no YAHOO_TIMEOUT_MS) and POLL_FLUSH_MARGIN_MS (10 s) before the function's timeout
 * (src/config/ingest.ts; a template test holds them together). Below those 18 s the deadline has
 * passed before the first request: every symbol's request is deferred, every minute, and no bar is
 * ever fetched; the minimum adds one request's full timeout, so a poll can always send one.
 */
const INGEST_MIN_TIMEOUT_SECONDS = 26;
const ingestTimeoutSeconds = whole(
  INGEST_MIN_TIMEOUT_SECONDS,
  900,
  "a poll keeps a Yahoo request's timeout (8 s) and 10 s for its flush before the function's timeout, and needs the time of one request before that",
);

/** Every param of params.default, with the values AWS (or the code reading it) accepts. */
const StageParamsSchema = z
  .object({
    streamMode: oneOf(['ON_DEMAND', 'PROVISIONED']),
    streamShardCount: whole(1, 100000),
    streamRetentionHours: whole(24, 8760),
    logRetentionDays: z.preprocess(
      fromDigits,
      z.union(
        LOG_RETENTION_DAYS.map((d) => z.literal(d)),
        { error: `must be one of CloudWatch Logs' retention days (${LOG_RETENTION_DAYS.join(', ')})` },
      ),
    ),
    logLevel: oneOf(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT']),
    statefulDeletionPolicy: oneOf(['Delete', 'Retain']),
    tableDeletionProtection: flag,
    tableBillingMode: oneOf(['PAY_PER_REQUEST', 'PROVISIONED']),
    tableTargetUtilizationPercent: whole(20, 90), // Application Auto Scaling's range for DynamoDB
    tableWriteMinCapacity: whole(1, 40000),
    tableReadMinCapacity: whole(1, 40000),
    tableWriteMaxCapacity: whole(1, 40000),
    tableReadMaxCapacity: whole(1, 40000),
    tableTradingHoursWriteFloor: whole(1, 40000),
    tableTradingHoursReadFloor: whole(1, 40000),
    tableTradingHoursTimezone: timeZone,
    tableTradingHoursStartCron: cron,
    tableTradingHoursEndCron: cron,
    alertEmails: checkedList((v) => parseEmails(v, 'alertEmails')),
    alertEmailSeverities: checkedList(parseAlertSeverities),
    opsEmails: checkedList((v) => parseEmails(v, 'opsEmails')),
    alarmIteratorAgeMs: whole(1000, 604800000),
    timestreamEnabled: flag,
    timestreamMemoryRetentionHours: whole(1, 8766),
    timestreamMagneticRetentionDays: whole(1, 73000),
    ingestScheduleEnabled: flag,
    symbols: z
      .string({ error: 'must be a comma-separated string (SYMBOLS)' })
      .regex(/\S/, 'must name at least one symbol'),
    ingestMode: oneOf(['quotes', 'bars', 'both']),
    pollIntervalSeconds: whole(30, 300), // POLL_INTERVAL_SECONDS' range (src/config/ingest.ts)
    ingestMemoryMb: lambdaMemoryMb,
    ingestTimeoutSeconds,
    processorMemoryMb: lambdaMemoryMb,
    processorTimeoutSeconds: lambdaTimeoutSeconds,
    processorBatchSize: whole(1, 10000),
    processorBatchWindowSeconds: whole(0, 300),
    processorParallelizationFactor: whole(1, 10),
    // Lambda also takes -1 (forever) for both: refused, a batch that keeps failing must end in the DLQ.
    processorMaxRetries: whole(0, 10000),
    processorMaxRecordAgeSeconds: whole(60, 604800),
    metricsTtlDays: whole(1, 36500),
    lakeInfrequentAccessDays: whole(30, 36500), // S3: STANDARD_IA only after 30 days
    lakeGlacierInstantRetrievalDays: whole(1, 36500),
    lakeNoncurrentVersionExpirationDays: whole(1, 36500),
    lakeAbortIncompleteUploadDays: whole(1, 36500),
    athenaResultsExpirationDays: whole(1, 36500),
    athenaBytesScannedCutoff: whole(10000000, Number.MAX_SAFE_INTEGER), // Athena's minimum: 10 MB
    compactionScheduleEnabled: flag,
    compactionSchedule: schedule,
    compactionMemoryMb: lambdaMemoryMb,
    compactionTimeoutSeconds,
  })
  .strict() // a param of params.default with no rule here is reported, not let through
  .superRefine((p, ctx) => {
    const rule = (ok, path, message) => {
      if (!ok) ctx.addIssue({ code: 'custom', path: [path], message });
    };
    rule(
      p.alarmIteratorAgeMs < p.processorMaxRecordAgeSeconds * 1000,
      'alarmIteratorAgeMs',
      `must be below processorMaxRecordAgeSeconds × 1000 (${p.processorMaxRecordAgeSeconds * 1000}): ` +
        'older records are given up to the dead-letter queue, so the alarm would never fire',
    );
    rule(
      p.processorMaxRecordAgeSeconds <= p.streamRetentionHours * 3600,
      'processorMaxRecordAgeSeconds',
      `must be at most streamRetentionHours × 3600 (${p.streamRetentionHours * 3600}): ` +
        'the stream has dropped a record by then',
    );
    rule(
      p.lakeGlacierInstantRetrievalDays >= p.lakeInfrequentAccessDays + 30,
      'lakeGlacierInstantRetrievalDays',
      `must be at least lakeInfrequentAccessDays + 30 (${p.lakeInfrequentAccessDays + 30}): ` +
        'S3 keeps an object in STANDARD_IA for 30 days before another transition',
    );
    for (const side of ['Write', 'Read']) {
      const min = p[`table${side}MinCapacity`];
      const max = p[`table${side}MaxCapacity`];
      const floor = p[`tableTradingHours${side}Floor`];
      rule(min <= max, `table${side}MinCapacity`, `must be at most table${side}MaxCapacity (${max})`);
      rule(
        floor >= min && floor <= max,
        `tableTradingHours${side}Floor`,
        `must be between table${side}MinCapacity (${min}) and table${side}MaxCapacity (${max})`,
      );
    }
  });

/**
 * @param {string} stage
 * @param {Record<string, unknown>} params the stage's resolved params (default, then the stage's, then --param)
 * @param {{ known: readonly string[], given: readonly string[] }} names params.default's names, and
 *   those given on the command line or under params.<stage>
 * @returns {Record<string, unknown>} the params, typed
 */
function validateStageParams(stage, params, names) {
  const problems = [];
  if (!STAGE_NAME.test(stage)) {
    problems.push(
      `stage "${stage}": must be 1–19 lower-case letters and digits, starting with a letter (Athena's ` +
        "database names are lower case; a '-' would let one stage's alarm pattern match another's)",
    );
  }
  for (const name of names.given) {
    if (!names.known.includes(name))
      problems.push(`param ${name}: not a param of this service (params.default)`);
  }
  const result = StageParamsSchema.safeParse(params);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          problems.push(`param ${key}: no rule for it in resources/stage-params.cjs`);
        continue;
      }
      const name = String(issue.path[0] ?? '');
      const got = name in params ? ` (got ${JSON.stringify(params[name])})` : '';
      problems.push(`param ${name}: ${issue.message}${got}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`invalid stage configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return result.data;
}

module.exports = async ({ options, resolveConfigurationProperty, resolveVariable }) => {
  const stage = String(await resolveVariable('sls:stage'));
  const declared = (await resolveConfigurationProperty(['params'])) ?? {};
  const known = Object.keys(declared.default ?? {});
  const cli = (options.param ?? []).map((item) => String(item).split('=')[0]);
  const given = [...new Set([...Object.keys(declared[stage] ?? {}), ...cli])];
  const params = {};
  for (const name of known) params[name] = await resolveVariable(`param:${name}`);
  try {
    return validateStageParams(stage, params, { known, given });
  } catch (error) {
    // osls prints a thrown error's stack when it has one, and this one's frames are in this file,
    // not in the operator's settings: the message alone says what to fix.
    error.stack = '';
    throw error;
  }
};
module.exports.validateStageParams = validateStageParams;
module.exports.STAGE_NAME = STAGE_NAME;
