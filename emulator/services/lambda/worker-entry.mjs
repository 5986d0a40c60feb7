// A Lambda sandbox's first module, in plain JavaScript so that it needs no type stripping: it
// turns on Node's module compile cache, then loads the sandbox runtime (TypeScript) through it.
// Stripping and compiling worker.ts and worker-time.ts took ~70 ms of every sandbox's start
// without the cache and ~15 ms with it (measured with node -e "import(...)" on worker-time.ts).
import { enableCompileCache } from 'node:module';
import { workerData } from 'node:worker_threads';

enableCompileCache({ directory: workerData.compileCacheDir });
await import('./worker.ts');
