// The gateway config: the example validates, defaults fill in, bad files name the bad field.
import t from 'tap';
import { loadGatewayConfig, parseGatewayConfig } from '../../../gateway/node/gateway-config.js';

t.test('example and defaults', (t) => {
  const example = loadGatewayConfig(new URL('../../../gateway/node/gateway.example.yaml', import.meta.url).pathname);
  t.same(example.kv, { backend: 'redis-cluster', nodes: '127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103', replicas: 1, waitTimeoutMs: 1000, prefix: 'cc' });
  const minimal = parseGatewayConfig({ gateway: { id: 'g', dataDir: '/d' }, broker: { url: 'mqtt://127.0.0.1:1883' } });
  t.same(minimal.kv, { backend: 'sqlite', synchronous: 'FULL' });
  t.same(minimal.batches, { intervalMs: 1000, maxLeaves: 32_768 });
  t.equal(minimal.broker.shareGroup, 'carchain-gateways');
  t.same([minimal.broker.url, minimal.broker.embedded], ['mqtt://127.0.0.1:1883', null], 'an external broker');
  t.equal(minimal.api.grants, 'chain', 'grant keys refused until the chain is wired');
  const embedded = parseGatewayConfig({ gateway: { id: 'g', dataDir: '/d' } });
  t.same([embedded.broker.url, embedded.broker.embedded], [null, { host: '127.0.0.1', port: 1883 }], 'no broker section: the embedded broker on 127.0.0.1:1883');
  t.same(parseGatewayConfig({ gateway: { id: 'g', dataDir: '/d' }, broker: { embedded: { port: 0 } } }).broker.embedded, { host: '127.0.0.1', port: 0 });
  t.end();
});

t.test('bad configs', (t) => {
  const base = { gateway: { id: 'g', dataDir: '/d' }, broker: { url: 'mqtt://h' } };
  t.throws(() => parseGatewayConfig({ ...base, kv: { backend: 'redis-cluster' } }), { code: 'CONFIG_INVALID' }, 'redis needs nodes');
  t.throws(() => parseGatewayConfig({ ...base, kv: { backend: 'postgres' } }), { code: 'CONFIG_INVALID' });
  t.throws(() => parseGatewayConfig({ ...base, broker: { url: 'http://h' } }), { code: 'CONFIG_INVALID', message: /\/broker\/url/ });
  t.throws(() => parseGatewayConfig({ ...base, gateway: { id: 'bad id', dataDir: '/d' } }), { code: 'CONFIG_INVALID' });
  t.throws(() => parseGatewayConfig({ ...base, broker: { url: 'mqtt://h', embedded: {} } }), { code: 'CONFIG_INVALID' }, 'external or embedded, not both');
  t.throws(() => parseGatewayConfig({ ...base, api: { grants: 'open' } }), { code: 'CONFIG_INVALID' });
  t.end();
});
