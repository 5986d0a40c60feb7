/**
 * AWS clients, created once per region and reused across invocations (Lambda keeps the module
 * warm). The SDK reads AWS_ENDPOINT_URL itself, which is how the same code reaches the emulator.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { STSClient } from '@aws-sdk/client-sts';

const common = { maxAttempts: 4, retryMode: 'standard' as const };
const cache = new Map<string, unknown>();

function memo<T>(key: string, make: () => T): T {
  let c = cache.get(key) as T | undefined;
  if (!c) {
    c = make();
    cache.set(key, c);
  }
  return c;
}

export const ec2 = (region: string) => memo(`ec2:${region}`, () => new EC2Client({ ...common, region }));
export const lambda = (region: string) =>
  memo(`lambda:${region}`, () => new LambdaClient({ ...common, region }));
export const sts = (region: string) => memo(`sts:${region}`, () => new STSClient({ ...common, region }));
/** IAM is global; the region only picks the signing region. */
export const iam = (region: string) => memo(`iam:${region}`, () => new IAMClient({ ...common, region }));
