import { z } from 'zod';

/** A variable set to nothing (`TICKSTREAM_ENDPOINT_S3=` in a .env file) counts as unset. */
const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);

// http or https only: the URL parser also takes `localhost:4567` (scheme `localhost:`) or
// `ftp://…`, which the SDK would only fail on at its first call.
const url = z.preprocess(
  unsetIfEmpty,
  z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:4567' }).optional(),
);

/**
 * Where AWS clients point. In AWS every endpoint is unset and the SDK's defaults apply; the local
 * runtime sets one endpoint per emulator (TICKSTREAM_ENDPOINT_*), and handlers never know which.
 */
export const AwsEnvSchema = z.object({
  AWS_REGION: z.preprocess(unsetIfEmpty, z.string().default('us-east-1')),
  TICKSTREAM_ENDPOINT_KINESIS: url,
  TICKSTREAM_ENDPOINT_DYNAMODB: url,
  TICKSTREAM_ENDPOINT_S3: url,
  TICKSTREAM_ENDPOINT_SQS: url,
  TICKSTREAM_ENDPOINT_SNS: url,
  TICKSTREAM_ENDPOINT_TIMESTREAM: url,
});

export type AwsEnv = z.infer<typeof AwsEnvSchema>;

export interface AwsClientConfig {
  readonly region: string;
  readonly endpoints: Partial<Record<AwsService, string>>;
  /** Static credentials for local emulators only; in AWS the default provider chain is used. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export type AwsService = 'kinesis' | 'dynamodb' | 's3' | 'sqs' | 'sns' | 'timestream';

/** Credentials the local emulators accept (s3rver's default key pair). Never valid in AWS. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Reads the endpoints and region; a bad one fails with each bad variable's name and why, in one line. */
export function awsClientConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AwsClientConfig {
  const parsed = AwsEnvSchema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid AWS client configuration: ${detail}`);
  }
  const e = parsed.data;
  const endpoints: Partial<Record<AwsService, string>> = {};
  if (e.TICKSTREAM_ENDPOINT_KINESIS) endpoints.kinesis = e.TICKSTREAM_ENDPOINT_KINESIS;
  if (e.TICKSTREAM_ENDPOINT_DYNAMODB) endpoints.dynamodb = e.TICKSTREAM_ENDPOINT_DYNAMODB;
  if (e.TICKSTREAM_ENDPOINT_S3) endpoints.s3 = e.TICKSTREAM_ENDPOINT_S3;
  if (e.TICKSTREAM_ENDPOINT_SQS) endpoints.sqs = e.TICKSTREAM_ENDPOINT_SQS;
  if (e.TICKSTREAM_ENDPOINT_SNS) endpoints.sns = e.TICKSTREAM_ENDPOINT_SNS;
  if (e.TICKSTREAM_ENDPOINT_TIMESTREAM) endpoints.timestream = e.TICKSTREAM_ENDPOINT_TIMESTREAM;
  // Any endpoint makes this a local run, and then every client gets the emulators' key pair, those
  // without an endpoint too: a client left to the default chain on a laptop would find the developer's
  // own AWS credentials, and a local run must never write to a real account.
  const local = Object.keys(endpoints).length > 0;
  return { region: e.AWS_REGION, endpoints, ...(local ? { credentials: LOCAL_CREDENTIALS } : {}) };
}
