// The terminal's SQLite cache of the WriteGrants naming its shop key, the owners' tickets, and the sightings it may keep.
//
// Synced from the chain (`write-grants?shop=PUB` and each vehicle's current owner); matching runs on
// the cache so a terminal keeps filtering while the chain is unreachable (with the state of its last
// sync). The database never holds a plate in clear unless it matched an active grant: grants hold
// only the opaque plateKey, and `sightings` is written only for matches.
import Database from 'better-sqlite3';
import { rsaPublicKeyFromPem, rsaKeyFingerprint } from '../../protocol/rsa.js';
import { vehicleIdHash } from '../../protocol/device-statements.js';
import { CarchainError } from '../../protocol/errors.js';
import { plateKeySecret, plateKeyWith } from '../../protocol/plate-key.js';
import { equalBytes } from '../../protocol/wire.js';
import type { KeyObject } from 'node:crypto';
import type { ShopIdentity } from './shop-identity.js';

export type WriteGrantStoreErrorCode = 'CHAIN_UNAVAILABLE' | 'TICKET_INVALID' | 'GRANT_UNKNOWN' | 'STORE_FAILED';
export class WriteGrantStoreError extends CarchainError<WriteGrantStoreErrorCode> {}

/** A WriteGrant as the chain's query API returns it (bytes as hex). */
export interface WriteGrantJson {
  id: string;
  grantorPublicKey: string;
  grantor: string;
  vidHash: string;
  shopPublicKey: string;
  plateKey: string;
  formats: string[];
  expiresAt: number;
  height: number;
  revokedAt: number;
}

/** What the owner hands the shop with a WriteGrant (a file or QR code): the VIN and the RSA key to seal to. */
export interface WriteGrantTicket {
  version: 1;
  writeGrantId: string;
  vid: string;
  /** The owner's RSA public key, SPKI PEM. */
  ownerRsaPublicKey: string;
}

export interface CachedGrant {
  id: string;
  grantorPublicKey: Uint8Array;
  vidHash: Uint8Array;
  plateKey: Uint8Array;
  formats: string[];
  expiresAt: number;
  revokedAt: number;
  /** The grantor still owns the vehicle (a transfer ends a write grant without a tx). */
  ownerCurrent: boolean;
  /** Present once the owner's ticket for this grant was imported. */
  ticket?: { vid: string; ownerRsaPublicKey: KeyObject };
}

/** The slice of ChainClient the store needs (a real ChainClient in production and tests). */
export interface ChainQuery {
  query<T = unknown>(path: string, params?: Record<string, string>): Promise<T>;
}

interface VehicleJson {
  ownerPublicKey: string;
  device: { rsaFingerprint: string } | null;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

export function isGrantUsable(g: CachedGrant, now: number): boolean {
  return g.revokedAt === 0 && (g.expiresAt === 0 || g.expiresAt > now) && g.ownerCurrent;
}

export class WriteGrantStore {
  private readonly db: Database.Database;
  /** ECDH secrets per grantor key: one point multiplication per owner, not per read. */
  private readonly secrets = new Map<string, Uint8Array>();
  private grants: CachedGrant[] = [];

  private constructor(path: string, private readonly shop: ShopIdentity) {
    try {
      this.db = new Database(path, { timeout: 5000 });
      this.db.pragma('journal_mode = WAL');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS grants (id TEXT PRIMARY KEY, grantor_pub BLOB NOT NULL, vid_hash BLOB NOT NULL,
          plate_key BLOB NOT NULL, formats TEXT NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL,
          owner_current INTEGER NOT NULL, rsa_fingerprint BLOB);
        CREATE TABLE IF NOT EXISTS tickets (grant_id TEXT PRIMARY KEY, vid TEXT NOT NULL, rsa_pem TEXT NOT NULL, imported_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS sightings (id INTEGER PRIMARY KEY, grant_id TEXT NOT NULL, plate TEXT NOT NULL,
          first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, reads INTEGER NOT NULL, confidence REAL NOT NULL, source TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      `);
    } catch (cause) {
      throw new WriteGrantStoreError('STORE_FAILED', `${path}: ${(cause as Error).message}`, { cause });
    }
    this.reload();
  }

  static open(path: string, shop: ShopIdentity): WriteGrantStore {
    return new WriteGrantStore(path, shop);
  }

  /** Replaces the cache with the chain's view: every grant naming this shop, and whether its grantor still owns the car. */
  async sync(chain: ChainQuery, now: number): Promise<{ grants: number; usable: number }> {
    let listed: WriteGrantJson[];
    const vehicles = new Map<string, VehicleJson | null>();
    try {
      listed = await chain.query<WriteGrantJson[]>('write-grants', { shop: hex(this.shop.publicKey) });
      for (const g of listed) {
        if (vehicles.has(g.vidHash)) continue;
        vehicles.set(g.vidHash, await chain.query<VehicleJson>(`vehicle/${g.vidHash}`).catch((err: unknown) => {
          if (err instanceof CarchainError && err.code === 'NOT_FOUND') return null;
          throw err;
        }));
      }
    } catch (cause) {
      if (cause instanceof CarchainError && cause.temporary === false && cause.code !== 'UNREACHABLE') throw cause;
      throw new WriteGrantStoreError('CHAIN_UNAVAILABLE', `cannot sync write grants: ${(cause as Error).message}`, { temporary: true, cause });
    }
    const insert = this.db.prepare('INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM grants').run();
      for (const g of listed) {
        const v = vehicles.get(g.vidHash) ?? null;
        const current = v !== null && v.ownerPublicKey === g.grantorPublicKey;
        insert.run(g.id, unhex(g.grantorPublicKey), unhex(g.vidHash), unhex(g.plateKey), JSON.stringify(g.formats), g.expiresAt, g.revokedAt, current ? 1 : 0,
          v?.device ? unhex(v.device.rsaFingerprint) : null);
      }
      this.db.prepare("INSERT OR REPLACE INTO meta VALUES ('lastSync', ?)").run(String(now));
    })();
    this.reload();
    return { grants: this.grants.length, usable: this.grants.filter((g) => isGrantUsable(g, now)).length };
  }

  /**
   * Imports the owner's ticket for a grant already in the cache (sync first). The VIN must hash to the
   * grant's vidHash, and the RSA key must be the one the car's dongle seals to (the chain's device
   * link fingerprint) when the car has a dongle.
   */
  importTicket(ticket: WriteGrantTicket, now: number): CachedGrant {
    if (ticket.version !== 1 || typeof ticket.writeGrantId !== 'string' || typeof ticket.vid !== 'string' || typeof ticket.ownerRsaPublicKey !== 'string') {
      throw new WriteGrantStoreError('TICKET_INVALID', 'a ticket is {version: 1, writeGrantId, vid, ownerRsaPublicKey}');
    }
    const row = this.db.prepare('SELECT vid_hash, rsa_fingerprint FROM grants WHERE id = ?').get(ticket.writeGrantId) as { vid_hash: Buffer; rsa_fingerprint: Buffer | null } | undefined;
    if (row === undefined) throw new WriteGrantStoreError('GRANT_UNKNOWN', `write grant ${ticket.writeGrantId} does not name this shop (or the terminal has not synced since it was committed)`);
    let vidHash: Uint8Array;
    let key: KeyObject;
    try {
      vidHash = vehicleIdHash(ticket.vid);
      key = rsaPublicKeyFromPem(ticket.ownerRsaPublicKey);
    } catch (cause) {
      throw new WriteGrantStoreError('TICKET_INVALID', `ticket for ${ticket.writeGrantId}: ${(cause as Error).message}`, { cause });
    }
    if (!equalBytes(vidHash, row.vid_hash)) throw new WriteGrantStoreError('TICKET_INVALID', `ticket for ${ticket.writeGrantId}: the VIN is not the granted vehicle`);
    if (row.rsa_fingerprint !== null && !equalBytes(rsaKeyFingerprint(key), row.rsa_fingerprint)) {
      throw new WriteGrantStoreError('TICKET_INVALID', `ticket for ${ticket.writeGrantId}: the RSA key is not the one the car's dongle seals to`);
    }
    this.db.prepare('INSERT OR REPLACE INTO tickets VALUES (?, ?, ?, ?)').run(ticket.writeGrantId, ticket.vid, ticket.ownerRsaPublicKey, now);
    this.reload();
    return this.grants.find((g) => g.id === ticket.writeGrantId)!;
  }

  /** The usable grant whose plateKey is this plate's keyed hash, or null. Nothing about a miss is kept. */
  match(plate: string, now: number): CachedGrant | null {
    for (const g of this.grants) {
      if (!isGrantUsable(g, now)) continue;
      let key: Uint8Array;
      try {
        key = plateKeyWith(this.secretFor(g.grantorPublicKey), plate);
      } catch {
        return null; // not a plate at all (empty after separators): nothing can match
      }
      if (equalBytes(key, g.plateKey)) return g;
    }
    return null;
  }

  /** Keeps a sighting of a matched plate (the owner consented by granting this shop). */
  recordSighting(grant: CachedGrant, s: { plate: string; firstSeen: number; lastSeen: number; reads: number; bestConfidence: number; source: string }): number {
    const r = this.db.prepare('INSERT INTO sightings (grant_id, plate, first_seen, last_seen, reads, confidence, source) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(grant.id, s.plate, s.firstSeen, s.lastSeen, s.reads, s.bestConfidence, s.source);
    return Number(r.lastInsertRowid);
  }

  /**
   * The whole second (ms) a `plate-sighting` record of a sighting first seen at `ms` is keyed under:
   * that second, or the one after the last second handed out when it is not later. The key is
   * {TIME (seconds), TERMINAL}, and the gateway keeps only the first record under a key, so two
   * cars seen in the same second must not share one. Committed before the record is queued.
   */
  claimSightingSecond(ms: number): number {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT value FROM meta WHERE key = 'lastSightingSecond'").get() as { value: string } | undefined;
      const last = row === undefined ? -Infinity : Number(row.value);
      const second = Math.max(Math.floor(ms / 1000) * 1000, last + 1000);
      this.db.prepare("INSERT OR REPLACE INTO meta VALUES ('lastSightingSecond', ?)").run(String(second));
      return second;
    })();
  }

  sightings(): { grantId: string; plate: string; firstSeen: number; reads: number; confidence: number; source: string }[] {
    return (this.db.prepare('SELECT grant_id, plate, first_seen, reads, confidence, source FROM sightings ORDER BY id').all() as
      { grant_id: string; plate: string; first_seen: number; reads: number; confidence: number; source: string }[])
      .map((r) => ({ grantId: r.grant_id, plate: r.plate, firstSeen: r.first_seen, reads: r.reads, confidence: r.confidence, source: r.source }));
  }

  list(): CachedGrant[] {
    return [...this.grants];
  }

  lastSync(): number | null {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'lastSync'").get() as { value: string } | undefined;
    return row === undefined ? null : Number(row.value);
  }

  close(): void {
    this.db.close();
  }

  private secretFor(grantor: Uint8Array): Uint8Array {
    const k = hex(grantor);
    let s = this.secrets.get(k);
    if (s === undefined) {
      s = plateKeySecret(this.shop.privateKey, grantor);
      this.secrets.set(k, s);
    }
    return s;
  }

  private reload(): void {
    const tickets = new Map((this.db.prepare('SELECT grant_id, vid, rsa_pem FROM tickets').all() as { grant_id: string; vid: string; rsa_pem: string }[])
      .map((t) => [t.grant_id, t]));
    const rows = this.db.prepare('SELECT * FROM grants ORDER BY id').all() as
      { id: string; grantor_pub: Buffer; vid_hash: Buffer; plate_key: Buffer; formats: string; expires_at: number; revoked_at: number; owner_current: number }[];
    this.grants = rows.map((r) => {
      const t = tickets.get(r.id);
      return {
        id: r.id, grantorPublicKey: new Uint8Array(r.grantor_pub), vidHash: new Uint8Array(r.vid_hash), plateKey: new Uint8Array(r.plate_key),
        formats: JSON.parse(r.formats) as string[], expiresAt: r.expires_at, revokedAt: r.revoked_at, ownerCurrent: r.owner_current === 1,
        ...(t ? { ticket: { vid: t.vid, ownerRsaPublicKey: rsaPublicKeyFromPem(t.rsa_pem) } } : {}),
      };
    });
  }
}
