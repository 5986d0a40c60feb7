import { Emulator, type StartOptions } from '../../emulator/emulator.ts';

/** Start an emulator on a free loopback port for one test file; close it after. */
export async function startTestEmulator(opts: StartOptions = {}): Promise<Emulator> {
  return Emulator.start({ port: 0, ...opts });
}

/** SDK v3 client settings for the account admin against this emulator. */
export function adminClientConfig(emu: Emulator, region = 'us-east-1') {
  return { ...emu.clientConfig(region), maxAttempts: 1 };
}
