// Shop maintenance jobs: a `maintenance` record sealed to the owner's RSA key, filed under the shop's address, sent like the dongle's records.
//
// A job is accepted only for a plate that matches a usable WriteGrant of this shop that lists the
// `maintenance` format and whose owner ticket (VIN + RSA key) was imported. The record goes into a
// durable SQLite outbox first (the job is "taken" once it is there), then the MQTT uplink signs it
// with the shop key under the shop's self-authorisation and removes it only after the broker's PUBACK.
import { randomInt } from 'node:crypto';
import { builtinFormatDictionary, timeKey } from '../../protocol/builtin-formats.js';
import { CarchainError } from '../../protocol/errors.js';
import { recordId, sealRecord, type SealedRecord } from '../../protocol/record.js';
import type { LogFn } from '../outbox/outbox.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import { MqttUplink, type UplinkTlsOptions } from '../uplink/mqtt-uplink.js';
import { SelfAuthorisation, type ShopIdentity } from './shop-identity.js';
import { isGrantUsable, type CachedGrant, type WriteGrantStore } from './write-grant-store.js';

export type MaintenanceErrorCode = 'NOT_AUTHORISED' | 'NO_TICKET' | 'FORMAT_NOT_GRANTED' | 'JOB_INVALID' | 'NOT_DELIVERED';
export class MaintenanceError extends CarchainError<MaintenanceErrorCode> {}

export interface MaintenanceJob {
  plate: string;
  mileageKm: number;
  work: string;
  parts?: string[];
  technician?: string;
  /** ms; default now. */
  time?: number;
}

export interface PreparedJob {
  grant: CachedGrant;
  record: SealedRecord;
  recordId: string;
  jobId: number;
}

/** Finds the grant for the job's plate and seals the record; throws MaintenanceError with a stable code when it may not be written. */
export function prepareMaintenanceRecord(store: WriteGrantStore, shop: ShopIdentity, job: MaintenanceJob, now: number): PreparedJob {
  if (!Number.isFinite(job.mileageKm) || job.mileageKm < 0) throw new MaintenanceError('JOB_INVALID', `mileage ${job.mileageKm} must be a non-negative number of km`);
  if (job.work.trim() === '') throw new MaintenanceError('JOB_INVALID', 'work must describe the job');
  // Only usable grants are tried: a plate that matches nothing is refused, and nothing about it is kept.
  const grant = store.match(job.plate, now);
  if (grant === null) throw new MaintenanceError('NOT_AUTHORISED', 'no active WriteGrant of this shop covers that plate');
  if (!isGrantUsable(grant, now)) throw new MaintenanceError('NOT_AUTHORISED', `write grant ${grant.id} is no longer active`);
  if (!grant.formats.includes('maintenance')) throw new MaintenanceError('FORMAT_NOT_GRANTED', `write grant ${grant.id} does not allow maintenance records (formats: ${grant.formats.join(', ')})`);
  if (grant.ticket === undefined) throw new MaintenanceError('NO_TICKET', `write grant ${grant.id} matched, but the owner's ticket (VIN and RSA key) was not imported`);
  const time = job.time ?? now;
  const jobId = randomInt(1, 2 ** 47);
  const value: Record<string, unknown> = { VID: grant.ticket.vid, mileage_km: job.mileageKm, work: job.work, shop: shop.address };
  if (job.parts !== undefined && job.parts.length > 0) value.parts = job.parts;
  if (job.technician !== undefined) value.technician = job.technician;
  const def = builtinFormatDictionary().get('maintenance');
  const record = sealRecord(def, shop.address, { TIME: timeKey(time), SHOP: shop.address, JOB_ID: jobId }, value, grant.ticket.ownerRsaPublicKey);
  return { grant, record, jobId, recordId: Buffer.from(recordId(record.address, record.encodedKey)).toString('hex') };
}

export interface ShopUplinkOptions {
  outboxPath: string;
  brokerUrl: string;
  protocolVersion?: 4 | 5;
  tls?: UplinkTlsOptions;
  /** Default `carchain-<shop address>`; `cait run` uses its own so a `shop maintenance add` beside it does not take its session over. */
  clientId?: string;
  log?: LogFn;
}

/** The shop's outbox + uplink pair: the dongle's parts, keyed by the shop's self-authorisation. */
export class ShopUplink {
  readonly outbox: SqliteOutbox;
  readonly uplink: MqttUplink;

  constructor(shop: ShopIdentity, options: ShopUplinkOptions) {
    const log = options.log ?? (() => undefined);
    this.outbox = SqliteOutbox.open({ path: options.outboxPath, log });
    const auth = new SelfAuthorisation(shop);
    this.uplink = new MqttUplink({
      url: options.brokerUrl, deviceId: shop.address, outbox: this.outbox, log, protocolVersion: options.protocolVersion ?? 5,
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.clientId !== undefined ? { clientId: options.clientId } : {}),
      keys: (address) => (address === shop.address ? { authorisation: auth.at(Date.now()), privateKey: shop.privateKey } : null),
    });
  }

  /** Commits the records durably (they are taken once this returns). */
  enqueue(records: SealedRecord[]): void {
    this.outbox.enqueue(records);
  }

  /**
   * Starts the uplink and waits until the outbox is empty (every record PUBACKed) or `timeoutMs`
   * passes; then stops. Records not delivered stay in the outbox for the next run.
   */
  async deliver(timeoutMs: number): Promise<{ delivered: boolean; waiting: number }> {
    await this.start();
    return this.stop(timeoutMs);
  }

  /** Starts sending in the background (a long-running terminal); records enqueued later leave as they come. */
  start(): Promise<void> {
    return this.uplink.start();
  }

  /** Waits up to `drainMs` for the outbox to empty, then stops the uplink; what is left stays in the outbox for the next start. */
  async stop(drainMs: number): Promise<{ delivered: boolean; waiting: number }> {
    const deadline = Date.now() + drainMs;
    while (this.outbox.stats().records > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await this.uplink.stop({ timeoutMs: 5_000 });
    const waiting = this.outbox.stats().records;
    return { delivered: waiting === 0, waiting };
  }

  close(): void {
    this.outbox.close();
  }
}
