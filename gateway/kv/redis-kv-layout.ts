// The Redis Cluster key scheme of the KV store and its insert-if-absent Lua script.
//
// Every key of one address carries the hash tag {<address>}, so an address lives in one slot: the
// script's two keys are in the same slot (a cluster requirement), a range is one node's sorted set,
// and a batch for one address is one pipeline to one node.
//   <prefix>:{<address>}:r:<hex key>   hash  r = record bytes, p = origin proof, t = receivedAt (ms, decimal)
//   <prefix>:{<address>}:idx           zset  score 0, member = the encoded key bytes; with equal scores
//                                            ZRANGEBYLEX orders members by memcmp, the key order.
import { createHash } from 'node:crypto';
import { KvError } from './kv-store.js';

export const DEFAULT_PREFIX = 'cc';
const PREFIX_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export function checkPrefix(prefix: string): string {
  // No braces: the first {…} of a key must be the address's hash tag.
  if (!PREFIX_PATTERN.test(prefix)) throw new KvError('KV_OPEN_FAILED', `prefix must match ${String(PREFIX_PATTERN)}`);
  return prefix;
}

export function valueKey(prefix: string, address: string, encodedKey: Uint8Array): string {
  return `${prefix}:{${address}}:r:${Buffer.from(encodedKey.buffer, encodedKey.byteOffset, encodedKey.byteLength).toString('hex')}`;
}

export function indexKey(prefix: string, address: string): string {
  return `${prefix}:{${address}}:idx`;
}

/** ZRANGEBYLEX bound: '[' inclusive or '(' exclusive, then the raw key bytes. */
export function lexBound(inclusive: boolean, key: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(inclusive ? '[' : '('), key]);
}

/**
 * KEYS[1] value hash, KEYS[2] index; ARGV record, origin proof, receivedAt, encoded key, wait flag.
 * Returns 1 inserted, 0 duplicate, 2 conflict. Lua strings are binary-safe, so `~=` compares bytes.
 * In WAIT mode a duplicate rewrites the same bytes: replication is ordered, so the WAIT that follows
 * then also proves a replica holds a copy first written by another connection or gateway.
 */
export const PUT_IF_ABSENT_LUA = `
local cur = redis.call('HGET', KEYS[1], 'r')
if not cur then
  redis.call('HSET', KEYS[1], 'r', ARGV[1], 'p', ARGV[2], 't', ARGV[3])
  redis.call('ZADD', KEYS[2], 0, ARGV[4])
  return 1
end
if cur ~= ARGV[1] then
  return 2
end
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'r', cur)
  redis.call('ZADD', KEYS[2], 0, ARGV[4])
end
return 0
`;

export const PUT_IF_ABSENT_SHA1 = createHash('sha1').update(PUT_IF_ABSENT_LUA).digest('hex');

export const PUT_RESULT = { 1: 'inserted', 0: 'duplicate', 2: 'conflict' } as const;
