#!/usr/bin/env node
// The `clocktower` command: runs the compiled CLI in dist/ (built by
// `npm install` through the prepare script, or `npm run build:ts`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('clocktower: dist/ is missing; run `npm run build:ts` (or `npm install`) first');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
