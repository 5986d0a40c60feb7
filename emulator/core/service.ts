import type { IncomingHttpHeaders } from 'node:http';
import type { Caller } from './identity.ts';

export type ServiceName = 'ec2' | 'iam' | 'sts' | 'lambda' | 'bedrock' | 'states' | 'access-analyzer';

/** What every operation gets besides its input. */
export interface OperationCall {
  caller: Caller;
  region: string;
  requestId: string;
  headers: IncomingHttpHeaders;
}

export type QueryOperation = (input: Record<string, any>, call: OperationCall) => unknown;

/** EC2 query (`protocol: 'ec2'`) or IAM/STS query (`protocol: 'query'`). Output objects are rendered to XML. */
export interface QueryApi {
  protocol: 'ec2' | 'query';
  /** XML namespace of the responses (query protocol only). */
  xmlns?: string;
  operations: Record<string, QueryOperation>;
}

/** awsJson1_0 (Step Functions): `X-Amz-Target: <prefix>.<Operation>`. */
export interface JsonApi {
  protocol: 'json';
  targetPrefix: string;
  operations: Record<string, (input: Record<string, any>, call: OperationCall) => unknown>;
}

export interface RestRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type RestResult =
  | { status?: number; headers?: Record<string, string>; json?: unknown; raw?: Buffer | string }
  /** Hold the connection without answering (a black-holed network path), for a virtual duration. */
  | { holdMs: number };

export interface RestRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Path template: `/2015-03-31/functions/{FunctionName}/invocations`; `{Name+}` matches slashes. */
  path: string;
  operation: string;
  handler: (req: RestRequest, call: OperationCall) => Promise<RestResult> | RestResult;
}

export interface RestJsonApi {
  protocol: 'rest-json';
  routes: RestRoute[];
}

export interface InventoryItem {
  service: ServiceName;
  type: string;
  id: string;
  region?: string;
  state?: string;
  tags: Record<string, string>;
  /** Resources AWS creates for you (default VPC): never a leftover. */
  builtIn?: boolean;
}

export interface EmulatedService {
  readonly name: ServiceName;
  readonly api: QueryApi | JsonApi | RestJsonApi;
  inventory(): InventoryItem[];
  reset(): void;
}
