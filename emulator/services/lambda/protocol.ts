/** Messages between the Lambda service (main thread) and a function's worker thread. */
import type { MessagePort } from 'node:worker_threads';

export interface WorkerData {
  functionName: string;
  handler: string;
  /** Directory holding the unzipped deployment package. */
  codeDir: string;
  memorySize: number;
  logStreamName: string;
  /** The emulator's clock state (core/clock.ts), shared so the function sees the same virtual time. */
  clock: SharedArrayBuffer;
  /** Real seconds per virtual second. */
  timeScale: number;
  /** DNS questions for AWS names go to the main thread through this port. */
  dnsPort: MessagePort;
}

export interface InvokeRequest {
  type: 'invoke';
  id: number;
  requestId: string;
  invokedFunctionArn: string;
  /** The function's Timeout in virtual milliseconds (for getRemainingTimeInMillis). */
  timeoutMs: number;
  payload: string;
}

export type WorkerRequest = InvokeRequest;

export interface FunctionErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export type WorkerResponse =
  /** The handler is about to run: init is over, the timeout clock starts. */
  | { type: 'started'; id: number }
  | { type: 'result'; id: number; payload?: string; error?: FunctionErrorPayload }
  /** The handler's own waits carried it past its Timeout (virtual time). */
  | { type: 'timeout'; id: number }
  /** Something escaped the handler: this environment is finished. */
  | { type: 'fatal'; id: number | undefined; error: FunctionErrorPayload };

export interface DnsQuestion {
  id: number;
  hostname: string;
}

export interface DnsAnswer {
  id: number;
  addresses: string[];
}
