/**
 * AWS clients, created once per service and region and reused across invocations (Lambda keeps
 * the module warm). Callers pass the client class, so a task's bundle loads only the services it
 * uses. The SDK reads AWS_ENDPOINT_URL itself, which is how the same code reaches the emulator.
 */
const common = { maxAttempts: 4, retryMode: 'standard' as const };
const cache = new Map<string, unknown>();

type ClientClass<C> = new (config: { region: string; maxAttempts: number; retryMode: 'standard' }) => C;

export function client<C>(Client: ClientClass<C>, region: string): C {
  const key = `${Client.name}:${region}`;
  let c = cache.get(key) as C | undefined;
  if (!c) {
    c = new Client({ ...common, region });
    cache.set(key, c);
  }
  return c;
}
