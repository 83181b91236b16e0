// The retained health report a device publishes on carchain/v1/devices/{id}/health, and the uplink's counters.
//
// Privacy: pool addresses are unlinkable by design, so the report carries counts only — never the
// addresses themselves, which would tie a device's days together for anyone allowed to read health.
import type { OutboxStats } from '../outbox/outbox.js';

export type UplinkState = 'idle' | 'running' | 'stopping' | 'stopped';

export interface BlockedAddress {
  address: string;
  reason: string;
  /** Records waiting at the last attempt (at most one batch is counted). */
  records: number;
  since: number;
  retryAt: number;
}

export interface UplinkStats {
  state: UplinkState;
  connected: boolean;
  startedAt: number | null;
  connects: number;
  disconnects: number;
  reconnectAttempts: number;
  lastConnectAt: number | null;
  inFlightMessages: number;
  inFlightRecords: number;
  publishedMessages: number;
  publishedRecords: number;
  publishedBytes: number;
  publishFailures: number;
  lastPublishAt: number | null;
  lastError: string | null;
  corruptRecordsDropped: number;
  blockedAddresses: BlockedAddress[];
}

export interface HealthReport {
  version: 1;
  deviceId: string;
  at: number;
  uptimeS: number;
  uplink: Omit<UplinkStats, 'blockedAddresses' | 'state'> & { blockedAddresses: number };
  outbox: Omit<OutboxStats, 'byAddress'> & { addresses: number };
}

export function healthReport(deviceId: string, now: number, uplink: UplinkStats, outbox: OutboxStats): HealthReport {
  const { blockedAddresses, state: _state, ...uplinkCounters } = uplink;
  const { byAddress, ...outboxCounters } = outbox;
  return {
    version: 1,
    deviceId,
    at: now,
    uptimeS: uplink.startedAt === null ? 0 : Math.round((now - uplink.startedAt) / 1000),
    uplink: { ...uplinkCounters, blockedAddresses: blockedAddresses.length },
    outbox: { ...outboxCounters, addresses: byAddress.length },
  };
}
