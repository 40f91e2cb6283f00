// Which addon file loaded. Under test:arm (CLOCKTOWER_EXPECT_PREBUILD) it must
// be the prebuild for the board's platform, since the test tree has no build/;
// under test:asan, the sanitizer build CLOCKTOWER_ADDON names; otherwise a
// local build or the prebuild matching this machine.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { addonPath, packageRoot } from '../../src/native/binding.js';
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

test.run();
