// What `npm pack` ships (run by test:arm once the prebuilds are built): the
// three prebuilt addons, the compiled JS and the sources a board without a
// prebuild needs to compile, and nothing of the test tree. Then the packed
// package, unpacked where there is no build/, loads its prebuild.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { treeRoot } from '../helpers/node.js';

/** The package's root: test:arm runs this compiled in out/test-js and says where the package is. */
const pkgRoot = process.env.CLOCKTOWER_PACKAGE_ROOT ?? treeRoot;
const PREBUILDS = [
  'prebuilds/linux-x64/clocktower.node',
  'prebuilds/linux-arm64/clocktower.node',
  'prebuilds/linux-arm/clocktower.armv7.node',
  'prebuilds/linux-x64/tools/clocktower_tools.node',
  'prebuilds/linux-arm64/tools/clocktower_tools.node',
  'prebuilds/linux-arm/tools/clocktower_tools.node',
];

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

/** What an ELF header says of its machine, as `file` would: class, machine, and for ARM the EABI version and float ABI. */
function elfMachine(file: string): string {
  const h = readFileSync(file);
  assert.equal([...h.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${file} is ELF`);
  const bits = h[4] === 2 ? 64 : 32;
  const machine = h.readUInt16LE(18);
  if (machine === 62) return `${bits}-bit x86-64`;
  if (machine === 183) return `${bits}-bit aarch64`;
  if (machine === 40) {
    const flags = h.readUInt32LE(0x24);
    return `${bits}-bit ARM EABI${flags >>> 24}${flags & 0x400 ? ' hard-float' : ''}`;
  }
  return `${bits}-bit machine ${machine}`;
}

test('the prebuilds are built for what their directories say', () => {
  assert.equal(
    PREBUILDS.map((p) => elfMachine(path.join(pkgRoot, p))),
    ['64-bit x86-64', '64-bit aarch64', '32-bit ARM EABI5 hard-float', '64-bit x86-64', '64-bit aarch64', '32-bit ARM EABI5 hard-float'],
  );
});

test('npm pack: all three prebuilds, dist/, bin/, the addon sources; no tests, no build output', () => {
  for (const p of PREBUILDS) assert.ok(existsSync(path.join(pkgRoot, p)), `${p} is built (npm run prebuild:all)`);
  const [info] = JSON.parse(npm(['pack', '--dry-run', '--json'], pkgRoot)) as [{ files: { path: string }[] }];
  const files = new Set(info.files.map((f) => f.path));
  for (const p of [
    ...PREBUILDS,
    'bin/clocktower.js',
    'dist/index.js',
    'dist/cli/main.js',
    'binding.gyp',
    'native/udp_endpoint.cc',
    'package.json',
    'README.md',
    'docs/deploy.md',
  ]) {
    assert.ok(files.has(p), `the tarball has ${p}`);
  }
  const stray = [...files].filter((f) => /^(test|bench|scratch|out|build|src|scripts)\//.test(f));
  assert.equal(stray, [], 'no test, bench or build trees');
});

test('the packed package, unpacked with no build/, loads its prebuild and runs the CLI', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-pack-'));
  try {
    const tgz = npm(['pack', '--ignore-scripts', '--pack-destination', dir], pkgRoot).trim().split('\n').pop()!;
    execFileSync('tar', ['-xzf', path.join(dir, tgz), '-C', dir]);
    const pkg = path.join(dir, 'package');
    assert.not.ok(existsSync(path.join(pkg, 'build')), 'nothing compiled in the tarball');
    // The dependencies, as an install with scripts blocked would leave them.
    symlinkSync(path.join(pkgRoot, 'node_modules'), path.join(pkg, 'node_modules'));
    const loaded = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const b = await import(${JSON.stringify(path.join(pkg, 'dist', 'native', 'binding.js'))}); console.log(b.addonPath)`],
      { encoding: 'utf8' },
    ).trim();
    assert.is(loaded, path.join(pkg, 'prebuilds', `linux-${process.arch}`, 'clocktower.node'));
    const version = execFileSync(process.execPath, [path.join(pkg, 'bin', 'clocktower.js'), '--version'], { encoding: 'utf8' }).trim();
    assert.match(version, /\d+\.\d+\.\d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
