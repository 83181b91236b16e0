// The RPC's /query/… routes: the application's read-only queries over committed state, as JSON with hex bytes.
import { CarchainError } from '../../../protocol/errors.js';
import {
  getAccount, getBatchAnchor, getDevice, getFormat, getGrant, getLockKeySet, getValidators, getVehicle, getWriteGrant,
  grantsByGrantee, grantsByGrantor, listFormats, writeGrantsByShop, writeGrantsByVehicle,
} from '../app/index.js';
import type { ChainNode } from './chain-node.js';
import type { RouteHandler } from './rpc-server.js';

class QueryError extends CarchainError<'BAD_REQUEST'> {}

/** Uint8Array → hex, bigint → decimal string, recursively: the JSON form of query results. */
export function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

function bytes(raw: string | undefined, length: number, what: string): Uint8Array {
  if (raw === undefined || !new RegExp(`^[0-9a-f]{${length * 2}}$`).test(raw)) throw new QueryError('BAD_REQUEST', `${what}: ${length * 2} lowercase hex digits`);
  return Uint8Array.from(Buffer.from(raw, 'hex'));
}

function limitOf(q: URLSearchParams): number {
  const n = Number(q.get('limit') ?? 1000);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new QueryError('BAD_REQUEST', 'limit: 1..1000');
  return n;
}

export function chainQueries(node: ChainNode): RouteHandler {
  return (path, q) => {
    const s = node.store;
    const [name, a, b] = path.split('/').map((p) => decodeURIComponent(p));
    const result = ((): unknown => {
      switch (name) {
        case 'vehicle': return getVehicle(s, bytes(a, 32, 'vidHash'));
        case 'device': return getDevice(s, bytes(a, 33, 'device public key'));
        case 'format': return a === undefined ? undefined : getFormat(s, a);
        case 'formats': return listFormats(s);
        case 'lock-key-set': return getLockKeySet(s, bytes(a, 32, 'vidHash'));
        case 'grant': return getGrant(s, bytes(a, 32, 'grant id'));
        case 'grants': {
          const grantor = q.get('grantor');
          const grantee = q.get('grantee');
          if (grantor !== null) return grantsByGrantor(s, grantor, limitOf(q));
          if (grantee !== null) return grantsByGrantee(s, grantee, limitOf(q));
          throw new QueryError('BAD_REQUEST', 'grants: ?grantor=ADDRESS or ?grantee=ADDRESS');
        }
        case 'write-grant': return getWriteGrant(s, bytes(a, 32, 'write grant id'));
        case 'write-grants': {
          const shop = q.get('shop');
          const vehicle = q.get('vehicle');
          if (shop !== null) return writeGrantsByShop(s, bytes(shop, 33, 'shop'), limitOf(q));
          if (vehicle !== null) return writeGrantsByVehicle(s, bytes(vehicle, 32, 'vehicle'), limitOf(q));
          throw new QueryError('BAD_REQUEST', 'write-grants: ?shop=PUBKEY or ?vehicle=VIDHASH');
        }
        case 'anchor': {
          const id = Number(b);
          if (a === undefined || !Number.isSafeInteger(id) || id < 0) throw new QueryError('BAD_REQUEST', 'anchor/SIGNER_ADDRESS/BATCH_ID');
          const anchor = getBatchAnchor(s, a, id);
          return anchor;
        }
        case 'account': return a === undefined ? undefined : getAccount(s, a);
        case 'validators': return getValidators(s);
        default: return undefined;
      }
    })();
    return result === undefined ? undefined : toJson(result);
  };
}
