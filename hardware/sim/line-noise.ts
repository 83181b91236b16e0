// Serial line faults for the noisy-line scenario: garbage bursts and corrupted or truncated lines.
//
// Garbage never contains `>`: a real line could fake a prompt, but a simulator that does so makes
// every driver test flaky without testing anything a timeout would not already cover.
import { randomInt, type RandomSource } from './seeded-random.js';

const PROMPT = 0x3e;

/** 1–8 bytes of line noise: framing-error bytes (0x00, 0xFF, high bytes) and stray characters. */
export function garbageBurst(random: RandomSource): Uint8Array {
  const length = randomInt(random, 1, 8);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const kind = random();
    let b: number;
    if (kind < 0.25) b = 0x00;
    else if (kind < 0.5) b = 0xff;
    else if (kind < 0.75) b = randomInt(random, 0x80, 0xfe);
    else b = randomInt(random, 0x21, 0x7e);
    bytes[i] = b === PROMPT ? 0x3f : b;
  }
  return bytes;
}

/** A damaged copy of `line`: one character replaced by a non-hex one, or the line cut short. */
export function corruptLine(line: string, random: RandomSource): string {
  if (line.length < 2) return line;
  if (random() < 0.5) return line.slice(0, randomInt(random, 1, line.length - 1));
  const at = randomInt(random, 0, line.length - 1);
  const replacement = 'GHJKQXZ#%&'[randomInt(random, 0, 9)]!;
  return line.slice(0, at) + replacement + line.slice(at + 1);
}
