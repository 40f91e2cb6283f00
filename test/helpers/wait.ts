// Polls until a condition holds or the time limit passes (then throws).
export async function waitFor(what: string, cond: () => boolean, limitMs = 2000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
