/** `npm run bench`: every benchmark, one after another, printing figures (no pass/fail). */
import { main as action } from './action.ts';
import { main as criticalPath } from './critical-path.ts';
import { main as emulator } from './emulator.ts';
import { main as infra } from './infra.ts';
import { main as npmStart } from './npm-start.ts';
import { main as perimeter } from './perimeter.ts';
import { main as queue } from './queue.ts';

console.log(
  '== npm start: wall, peak RSS, processes left behind (realistic profile, 2 runs; aim < 5 s, < 300 MB)',
);
await npmStart(2);
console.log('\n== emulator: start-up and round-trip');
await emulator();
console.log(
  '\n== verification: time to verdict ÷ physical floor, old critical-path ratio, blog-order baseline, VPC held after the verdict (realistic profile)',
);
await criticalPath();
console.log('\n== infrastructure: task bundle sizes and synth time');
await infra();
console.log('\n== GitHub Action: bundle size and verdict-to-comment latency');
await action();
console.log('\n== queueing: 25 concurrent runs under the 5-VPC quota (realistic profile, compressed)');
await queue();
console.log('\n== perimeter spec: static-check time of the examples, size in the execution input');
await perimeter();
