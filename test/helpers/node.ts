// How a test starts another Node process on a script of this tree. From
// source (`npm test`) the child runs TypeScript through tsx. Under
// `npm run test:arm` the tests run compiled (out/test-js, built by
// scripts/test-arm.sh) inside qemu-user, which has no binfmt handler on this
// machine: CLOCKTOWER_TEST_EMULATOR holds the emulator command and every
// child Node is started through it, so children run on the ARM Node too.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The tree the tests run from: the repository, or out/test-js when compiled. */
export const treeRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** True when the tests run as compiled JavaScript (test:arm). */
export const compiled = import.meta.url.endsWith('.js');
const emulator = (process.env.CLOCKTOWER_TEST_EMULATOR ?? '').split(' ').filter(Boolean);

function scriptPath(script: string): string {
  const file = path.isAbsolute(script) ? script : path.join(treeRoot, script);
  return compiled ? file.replace(/\.ts$/, '.js') : file;
}

/** argv for running `script` (a .ts path, absolute or from the tree root) with `args`. */
export function nodeArgv(script: string, args: string[] = []): string[] {
  return [...emulator, process.execPath, ...(compiled ? [] : ['--import', 'tsx']), scriptPath(script), ...args];
}

/** Source for `new Worker(src, { eval: true })` that runs `script` (a .ts path) in the worker. */
export function workerSource(script: string): string {
  const url = JSON.stringify(pathToFileURL(scriptPath(script)).href);
  return compiled ? `import(${url})` : `import('tsx/esm/api').then((m) => { m.register(); return import(${url}); })`;
}
