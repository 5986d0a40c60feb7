/** Messages between the Lambda service (main thread) and a function's worker thread. */
import type { MessagePort } from 'node:worker_threads';

/** Header a sandbox puts on its requests to the emulator: its slot id on the clock. */
export const SANDBOX_HEADER = 'x-emulator-sandbox';
/**
 * Header on a sandbox's HTTPS request to an AWS name (an endpoint-specific `vpce-…` name, say)
 * that the sandbox's network carried to the emulator: the name it was addressed to. The request
 * keeps its own signed Host, so the emulator sees the name the client connected to.
 */
export const ROUTED_HOST_HEADER = 'x-emulator-routed-host';

export interface WorkerData {
  functionName: string;
  handler: string;
  /** Directory holding the unzipped deployment package. */
  codeDir: string;
  /** Node's module compile cache for the package's modules (lambda/code-store.ts). */
  compileCacheDir: string;
  memorySize: number;
  logStreamName: string;
  /** The emulator's clock state (core/clock.ts), shared so the function sees the same virtual time. */
  clock: SharedArrayBuffer;
  /** This sandbox's slot on the clock (core/clock.ts SLOT): computing or not, next due timer, requests. */
  slot: SharedArrayBuffer;
  slotId: number;
  /** Seed for Math.random while the bundle loads (each invocation reseeds it). */
  randomSeed: number;
  /** host:port of the emulator, whose requests the sandbox counts and marks. */
  emulatorHost: string;
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
  /** Virtual ms of a modelled cold start before the handler runs (0 when a warm sandbox serves it). */
  coldStartMs: number;
  /** Seed for Math.random from this invocation on (drawn from the run's stream). */
  randomSeed: number;
  payload: string;
}

/** The clock reached this sandbox's next due timer. */
export interface TickRequest {
  type: 'tick';
}

export type WorkerRequest = InvokeRequest | TickRequest;

export interface FunctionErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export type WorkerResponse =
  /** The handler is about to run: init is over, the timeout clock starts. */
  | { type: 'started'; id: number }
  | { type: 'result'; id: number; payload?: string; error?: FunctionErrorPayload }
  /** The sandbox went idle: its slot says when its next timer is due. */
  | { type: 'idle' }
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
