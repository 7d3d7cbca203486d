import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { realTemplate, useLocalCloud } from '../../support/local-cloud.ts';

// SQS through the project's client factory against local-aws-sqs, on the template's dead-letter queue.
const cloud = useLocalCloud();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SQS (local-aws-sqs) through createAwsClients', () => {
  it('creates the dead-letter queue with the retention the template sets', async () => {
    const template = await realTemplate('dev');
    const props = template.Resources.ProcessorDeadLetterQueue!.Properties as {
      QueueName: string;
      MessageRetentionPeriod: number;
    };
    const url = cloud().env.DEAD_LETTER_QUEUE_URL!;
    expect(url.endsWith(`/${props.QueueName}`)).toBe(true);
    const attrs = (
      await cloud().clients.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['MessageRetentionPeriod', 'QueueArn'],
        }),
      )
    ).Attributes!;
    expect(Number(attrs.MessageRetentionPeriod)).toBe(props.MessageRetentionPeriod);
    expect(attrs.QueueArn).toBe(`arn:aws:sqs:${cloud().region}:000000000000:${props.QueueName}`);
  });

  it('sends, receives and deletes a message, which is then not received again', async () => {
    const sqs = cloud().clients.sqs;
    const QueueUrl = cloud().env.DEAD_LETTER_QUEUE_URL!;
    const body = JSON.stringify({ reason: 'price: must be a positive number', sequenceNumber: '4959' });
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: body,
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'validation' } },
      }),
    );
    const got = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 1,
        MessageAttributeNames: ['All'],
      }),
    );
    expect(got.Messages).toHaveLength(1);
    const m = got.Messages![0]!;
    expect(m.MessageId).toBe(sent.MessageId);
    expect(m.Body).toBe(body);
    expect(m.MessageAttributes?.reason?.StringValue).toBe('validation');
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle! }));
    await sleep(1200); // past the 1 s visibility timeout: an undeleted message would be back
    const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(again.Messages ?? []).toHaveLength(0);
  });

  it('redelivers a received message that was not deleted once its visibility timeout passes', async () => {
    const sqs = cloud().clients.sqs;
    const QueueUrl = cloud().env.DEAD_LETTER_QUEUE_URL!;
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'not deleted' }));
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 1 }));
    expect(first.Messages?.[0]?.MessageId).toBe(sent.MessageId);
    const hidden = await sqs.send(new ReceiveMessageCommand({ QueueUrl }));
    expect(hidden.Messages ?? []).toHaveLength(0);
    await sleep(1200);
    const back = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        AttributeNames: ['All'] /* local-aws-sqs reads the legacy parameter only */,
      }),
    );
    expect(back.Messages?.[0]?.MessageId).toBe(sent.MessageId);
    expect(back.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: back.Messages![0]!.ReceiptHandle! }));
  });
});
