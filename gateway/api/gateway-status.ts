// The gateway's status: the GatewayStats JSON (`/stats`, `carchain gateway stats`) and its Prometheus text with HTTP request counters.
import type { IngestStats } from '../ingest/mqtt-ingest.js';
import type { KvHealth } from '../kv/kv-store.js';

export interface GatewayStats {
  gatewayId: string;
  ingest: IngestStats;
  batches: { sealed: number; anchored: number; pendingLeaves: number };
  kv: KvHealth;
}

/**
 * Requests by route pattern (not by URL: addresses and ids would make the label set unbounded) and
 * status class. Plain counters in this process; Prometheus computes rates.
 */
export class HttpRequestCounters {
  private readonly counts = new Map<string, number>();

  count(method: string, route: string, status: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  lines(): string[] {
    const out = ['# HELP carchain_http_requests_total HTTP API requests by method, route pattern and status.', '# TYPE carchain_http_requests_total counter'];
    for (const [key, n] of [...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const [method, route, status] = key.split('\u0000') as [string, string, string];
      out.push(`carchain_http_requests_total{method="${method}",route="${escapeLabel(route)}",status="${status}"} ${n}`);
    }
    return out;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text exposition (format 0.0.4) of the gateway counters, plus HTTP request counters when given. */
export function prometheus(s: GatewayStats, http?: HttpRequestCounters): string {
  const lines = [
    '# HELP carchain_records_total Records by ingest outcome.',
    '# TYPE carchain_records_total counter',
    `carchain_records_total{outcome="accepted"} ${s.ingest.accepted}`,
    `carchain_records_total{outcome="duplicate"} ${s.ingest.duplicates}`,
    `carchain_records_total{outcome="conflict"} ${s.ingest.conflicts}`,
    '# HELP carchain_messages_rejected_total Uplink messages rejected, by reason.',
    '# TYPE carchain_messages_rejected_total counter',
    ...Object.entries(s.ingest.rejectedByReason).map(([reason, n]) => `carchain_messages_rejected_total{reason="${reason}"} ${n}`),
    '# HELP carchain_messages_total Uplink messages received.',
    '# TYPE carchain_messages_total counter',
    `carchain_messages_total ${s.ingest.messages}`,
    '# HELP carchain_store_failures_total Uplink messages left unacknowledged because the store failed.',
    '# TYPE carchain_store_failures_total counter',
    `carchain_store_failures_total ${s.ingest.storeFailures}`,
    '# HELP carchain_batches_total Batches sealed and anchored.',
    '# TYPE carchain_batches_total counter',
    `carchain_batches_total{state="sealed"} ${s.batches.sealed}`,
    `carchain_batches_total{state="anchored"} ${s.batches.anchored}`,
    '# HELP carchain_pending_leaves Leaves waiting for a batch.',
    '# TYPE carchain_pending_leaves gauge',
    `carchain_pending_leaves ${s.batches.pendingLeaves}`,
    '# HELP carchain_kv_up 1 when the KV backend answers.',
    '# TYPE carchain_kv_up gauge',
    `carchain_kv_up{backend="${s.kv.backend}"} ${s.kv.ok ? 1 : 0}`,
    '# HELP carchain_mqtt_connected 1 when the ingest is connected to the broker.',
    '# TYPE carchain_mqtt_connected gauge',
    `carchain_mqtt_connected ${s.ingest.connected ? 1 : 0}`,
    ...(http ? http.lines() : []),
  ];
  return `${lines.join('\n')}\n`;
}
