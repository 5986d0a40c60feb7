import { DescribeVpcEndpointsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';

/**
 * Waiting as a client must, on every profile: the instant profile keeps AWS's intermediate
 * states (endpoint `pending`, function `Pending`, update `InProgress`), only shorter.
 */

/** Poll until the predicate holds; fails the test after a generous real-time deadline. */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  ok: (v: T) => boolean,
  what: string,
  deadlineMs = 8000,
): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The function is `Active` and its last update `Successful` (the SDK's function_active_v2 + function_updated_v2). */
export async function functionReady(lambda: LambdaClient, name: string): Promise<void> {
  await eventually(
    () => lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name })),
    (c) => c.State === 'Active' && c.LastUpdateStatus === 'Successful',
    `${name} Active and Successful`,
  );
}

/** The endpoint says `available` (the shape of the product's own wait-endpoint task). */
export async function endpointAvailable(ec2: EC2Client, vpcEndpointId: string): Promise<void> {
  await eventually(
    () => ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [vpcEndpointId] })),
    (r) => String(r.VpcEndpoints?.[0]?.State) === 'available',
    `${vpcEndpointId} available`,
  );
}

/**
 * Calls made right after one another, as a client on AWS makes them: simulated time stands still
 * while `steps` run, however long the loaded machine takes between them. For assertions about
 * the moment just after a change (the old policy still in force, an endpoint still `deleting`):
 * at the instant profile's cap a few real milliseconds of load are tens of virtual seconds.
 */
export async function withClockHeld<T>(
  emu: { ctx: { clock: { hold(label: string): () => void } } },
  steps: () => Promise<T>,
): Promise<T> {
  const release = emu.ctx.clock.hold('test client');
  try {
    return await steps();
  } finally {
    release();
  }
}
