// Which addon file loaded. Under test:arm (CLOCKTOWER_EXPECT_PREBUILD) it must
// be the prebuild for the board's platform, since the test tree has no build/;
// under test:asan, the sanitizer build CLOCKTOWER_ADDON names; otherwise a
// local build or the prebuild matching this machine.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { addonPath, binding, packageRoot } from '../../src/native/binding.js';
import { tools, toolsAddonPath } from '../../src/native/tools-binding.js';
import { realtimeNs } from '../../src/native/clock.js';

const expected = process.env.CLOCKTOWER_EXPECT_PREBUILD;
const arch = process.arch === 'arm' ? 'arm' : process.arch;

test('the addon comes from this tree: a local build or the prebuild for this platform', () => {
  const rel = path.relative(packageRoot, addonPath);
  const override = process.env.CLOCKTOWER_ADDON;
  if (override) {
    assert.is(addonPath, override, 'CLOCKTOWER_ADDON (the sanitizer build) is what loaded');
  } else if (expected) {
    assert.is(path.dirname(rel), path.join('prebuilds', expected), `loaded ${addonPath}`);
  } else {
    assert.ok([path.join('build', 'Release'), path.join('prebuilds', `${process.platform}-${arch}`)].includes(path.dirname(rel)), `loaded ${addonPath}`);
  }
  if (process.arch === 'arm') assert.match(path.basename(rel), /armv7/, 'armv7 prebuild (hard float)');
  assert.ok(realtimeNs() > 1_600_000_000n * 1_000_000_000n, 'and it works');
});

test('the load generator and the conversion bindings are in the tools addon beside it, not in the production addon', () => {
  const prod = binding as unknown as Record<string, unknown>;
  for (const k of ['runLoad', 'unixNsToNtp64', 'ntp64ToUnixNsBatch']) assert.is(prod[k], undefined, `production addon exports ${k}`);
  const t = tools();
  assert.type(t.runLoad, 'function');
  assert.is(t.unixNsToNtp64(0n), 2_208_988_800n << 32n);
  const override = process.env.CLOCKTOWER_TOOLS_ADDON;
  if (override) assert.is(toolsAddonPath(), override);
  else assert.is(path.dirname(toolsAddonPath()), path.join(path.dirname(addonPath), 'tools'), `tools addon at ${toolsAddonPath()}`);
});

test.run();
