// Seeds for randomized tests: CLOCKTOWER_SEED replays a failure; otherwise a
// fixed default keeps CI deterministic. Assertion messages include the seed.
export function testSeed(fallback: number): number {
  const env = process.env['CLOCKTOWER_SEED'];
  return env !== undefined && /^\d+$/.test(env) ? Number(env) >>> 0 : fallback;
}
