// bench:ingest device side: one MQTT connection per simulated device, publishing QoS 1 in bursts (throughput) or paced (latency).
import { performance } from 'node:perf_hooks';
import { connectAsync, type MqttClient } from 'mqtt';
import type { BenchMessage } from './ingest-messages.js';

export interface Publishers {
  clients: MqttClient[];
  end(): Promise<void>;
}

/**
 * Each device is its own connection: a broker handles one connection's publishes in order, so a
 * single publisher would hand the gateway one message at a time and defeat its group commit.
 */
export async function connectPublishers(url: string, protocolVersion: 4 | 5, devices: number, run: string): Promise<Publishers> {
  const clients = await Promise.all(Array.from({ length: devices }, (_, i) => connectAsync(url, { protocolVersion, clientId: `carchain-bench-pub-${run}-${i}`, clean: true })));
  return { clients, end: async () => void (await Promise.all(clients.map((c) => c.endAsync()))) };
}

/** Every message at once, each by its device's connection; resolves when the broker PUBACKed all of them. */
export async function publishBurst(publishers: Publishers, messages: readonly BenchMessage[]): Promise<void> {
  await Promise.all(messages.map((m) => publishers.clients[m.device % publishers.clients.length]!.publishAsync(m.topic, m.bytes, { qos: 1 })));
}

export interface PacedResult {
  /** performance.now() at each message's publish call, by message index. */
  sentAt: Map<number, number>;
  /** publish → PUBACK at the device, ms, by message index. */
  pubackMs: Map<number, number>;
}

/**
 * Publishes at a fixed offered load (messages per second), open loop: a message goes at its slot
 * whatever happened to earlier ones, so a slow gateway shows up as latency, not as a lower rate.
 */
export async function publishPaced(publishers: Publishers, messages: readonly BenchMessage[], messagesPerSecond: number): Promise<PacedResult> {
  const sentAt = new Map<number, number>();
  const pubackMs = new Map<number, number>();
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < messages.length; i++) {
    const due = start + (i * 1000) / messagesPerSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const m = messages[i]!;
    const t = performance.now();
    sentAt.set(m.index, t);
    pending.push(publishers.clients[m.device % publishers.clients.length]!.publishAsync(m.topic, m.bytes, { qos: 1 }).then(() => void pubackMs.set(m.index, performance.now() - t)));
  }
  await Promise.all(pending);
  return { sentAt, pubackMs };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Polls `done` every `everyMs` (cheap counters: 2 ms; SQL counts: slower). */
export async function until(done: () => boolean, timeoutMs = 180_000, everyMs = 2): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('bench round timed out');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
