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
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
