#!/usr/bin/env node
// Entry point of the `privatelink-verify` command. The code is TypeScript run by Node 24's type
// stripping; npm puts the `node` devDependency (Node 24) first on PATH for npx and npm scripts.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `privatelink-verify needs Node.js 24 or newer (this is ${process.version}). Run it through npx or npm scripts after \`npm ci\`, which provide Node 24.\n`,
  );
  process.exit(2);
}

// glibc gives threads that allocate their own malloc arenas (up to 8 per core) and keeps them
// after the thread ends, so every Lambda sandbox of the embedded emulator (a worker thread) left
// tens of MB resident: one local verification peaked at ~816 MB. With one arena it peaked at
// ~400 MB (measured with `npm start`). The setting is read when the process starts, so the
// commands that run the emulator start once more with it; MALLOC_ARENA_MAX set by the user wins.
const EMULATING = new Set(['local', 'emulator', 'run']);
if (
  process.platform === 'linux' &&
  process.env.MALLOC_ARENA_MAX === undefined &&
  EMULATING.has(process.argv[2])
) {
  const { spawn } = await import('node:child_process');
  // The IPC channel is only a lifeline: the child exits when it closes (this process was killed,
  // even with SIGKILL), so a killed wrapper never leaves an emulator running on its own.
  // V8 lets each isolate's young generation grow to 48 MB (16 MB semi-spaces); capped at 2 MB
  // semi-spaces the emulator's own heap stays ~50 MB smaller for the same CPU time (the Lambda
  // sandboxes get the same cap from their resourceLimits). A flag the user gave wins.
  const userSet = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) =>
    a.includes('semi-space-size'),
  );
  const v8Flags = userSet ? [] : ['--max-semi-space-size=2'];
  const child = spawn(process.execPath, [...v8Flags, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, MALLOC_ARENA_MAX: '1' },
  });
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(s, forward);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
} else {
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
  // V8's code cache for this command's own modules (Node's module compile cache, in the
  // machine's temporary directory; NODE_COMPILE_CACHE moves it, NODE_DISABLE_COMPILE_CACHE=1 turns it off).
  const { enableCompileCache } = await import('node:module');
  enableCompileCache();
  const { main } = await import('./main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
