// Entry point of the bundled action: everything lives in run(), which owns its error handling.
import { run } from './main.ts';

void run();
