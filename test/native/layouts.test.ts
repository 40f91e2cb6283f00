// The layouts JS reads out of the addon's slabs are the addon's own: checked
// at load (src/native/binding.ts), and a moved field is named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { binding, addonPath } from '../../src/native/binding.js';
import { checkLayouts, layoutMismatches, type NativeLayouts } from '../../src/native/layouts.js';

test('the built addon exports layouts that match the JS ones', () => {
  assert.ok(binding.layouts, 'a Linux build exports layouts');
  assert.equal(layoutMismatches(binding.layouts!), []);
});

test('a moved record field, a renumbered stamp source and a reordered counter are each named', () => {
  const l = structuredClone(binding.layouts!) as NativeLayouts;
  l.record['rxNs'] = 12;
  l.stampSources['KernelTx'] = 4;
  l.serverCounters = [...l.serverCounters];
  [l.serverCounters[0], l.serverCounters[1]] = [l.serverCounters[1]!, l.serverCounters[0]!];
  l.keyTypes = l.keyTypes.slice(0, -1);
  const bad = layoutMismatches(l);
  assert.ok(bad.includes('record.rxNs: js 8, addon 12'), bad.join('\n'));
  assert.ok(bad.includes('stampSources.KernelTx: js 3, addon 4'), bad.join('\n'));
  assert.ok(bad.includes('serverCounters.0: js received, addon answered'), bad.join('\n'));
  assert.ok(bad.includes('keyTypes.6: js AES256, addon (none)'), bad.join('\n'));
  assert.throws(() => checkLayouts(l, addonPath), /does not match this JS \(rebuild it\): record\.rxNs/);
});

test.run();
