// The gateway config: the example validates, defaults fill in, bad files name the bad field.
import t from 'tap';
import { loadGatewayConfig, parseGatewayConfig } from '../../../gateway/node/gateway-config.js';

t.test('example and defaults', (t) => {
  const example = loadGatewayConfig(new URL('../../../gateway/node/gateway.example.yaml', import.meta.url).pathname);
  t.same(example.kv, { backend: 'redis-cluster', nodes: '127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103', replicas: 1, waitTimeoutMs: 1000, prefix: 'cc' });
  const minimal = parseGatewayConfig({ gateway: { id: 'g', dataDir: '/d' }, broker: { url: 'mqtt://127.0.0.1:1883' } });
  t.same(minimal.kv, { backend: 'sqlite', synchronous: 'FULL' });
  t.same(minimal.batches, { intervalMs: 1000, maxLeaves: 4096 });
  t.equal(minimal.broker.shareGroup, 'carchain-gateways');
  t.end();
});

t.test('bad configs', (t) => {
  const base = { gateway: { id: 'g', dataDir: '/d' }, broker: { url: 'mqtt://h' } };
  t.throws(() => parseGatewayConfig({ ...base, kv: { backend: 'redis-cluster' } }), { code: 'CONFIG_INVALID' }, 'redis needs nodes');
  t.throws(() => parseGatewayConfig({ ...base, kv: { backend: 'postgres' } }), { code: 'CONFIG_INVALID' });
  t.throws(() => parseGatewayConfig({ ...base, broker: { url: 'http://h' } }), { code: 'CONFIG_INVALID', message: /\/broker\/url/ });
  t.throws(() => parseGatewayConfig({ ...base, gateway: { id: 'bad id', dataDir: '/d' } }), { code: 'CONFIG_INVALID' });
  t.end();
});
