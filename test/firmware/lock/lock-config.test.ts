// The lock's YAML config: the example validates, defaults and relative paths are filled in, bad fields are named.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLockConfig, parseLockConfig } from '../../../firmware/lock/lock-config.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-lock-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('the example config validates', (t) => {
  const c = loadLockConfig(fileURLToPath(new URL('../../../firmware/lock/lock.example.yaml', import.meta.url)));
  t.equal(c.vehicle.vid, 'LBVNU79049SB81546');
  t.equal(c.lockKeyFile, '/var/lib/carchain/lock/lock-key.json', 'default key file in the data dir');
  t.same(c.listen, { host: '127.0.0.1', port: 7420 });
  t.same(c.relay, { brokerUrl: 'mqtt://127.0.0.1:1883', deviceId: 'lock-LBVNU79049SB81546' });
  t.same(c.keySet, { file: null, chainRpc: ['http://127.0.0.1:26657'], pollMs: 2000 });
  t.end();
});

t.test('defaults, and relative paths resolved against the config file', (t) => {
  const file = join(dir, 'lock.yaml');
  writeFileSync(file, 'vehicle: { vid: LBVNU79049SB81546 }\ndataDir: data\ntrust: { genesis: g/genesis.json }\nkeySet: { file: ks.json }\n');
  const c = loadLockConfig(file);
  t.equal(c.dataDir, join(dir, 'data'));
  t.equal(c.lockKeyFile, join(dir, 'data', 'lock-key.json'));
  t.equal(c.trust.genesis, join(dir, 'g', 'genesis.json'));
  t.equal(c.keySet.file, join(dir, 'ks.json'));
  t.same(c.keySet.chainRpc, []);
  t.equal(c.listen, null);
  t.equal(c.relay, null);
  t.equal(c.stalenessMs, 7 * 24 * 3600_000);
  t.end();
});

t.test('invalid configs are CONFIG_INVALID naming the field', (t) => {
  const base = { vehicle: { vid: 'LBVNU79049SB81546' }, dataDir: '/d', trust: { genesis: '/g.json' } };
  t.throws(() => parseLockConfig({ ...base, vehicle: { vid: 'not a vin' } }), { code: 'CONFIG_INVALID', message: /\/vehicle\/vid/ });
  t.throws(() => parseLockConfig({ ...base, relay: { brokerUrl: 'http://x', deviceId: 'a' } }), { code: 'CONFIG_INVALID', message: /\/relay\/brokerUrl/ });
  t.throws(() => parseLockConfig({ ...base, relay: { brokerUrl: 'mqtt://x', deviceId: 'a/b' } }), { code: 'CONFIG_INVALID', message: /\/relay\/deviceId/ });
  t.throws(() => parseLockConfig({ ...base, listen: { port: 70000 } }), { code: 'CONFIG_INVALID', message: /\/listen\/port/ });
  t.throws(() => parseLockConfig({ ...base, keySet: { pollMs: 5 } }), { code: 'CONFIG_INVALID', message: /\/keySet\/pollMs/ });
  t.throws(() => parseLockConfig({ ...base, extra: 1 }), { code: 'CONFIG_INVALID', message: /extra/ });
  t.throws(() => parseLockConfig({ vehicle: base.vehicle, dataDir: '/d' }), { code: 'CONFIG_INVALID', message: /trust/ });
  t.throws(() => loadLockConfig(join(dir, 'missing.yaml')), { code: 'CONFIG_UNREADABLE' });
  writeFileSync(join(dir, 'bad.yaml'), 'vehicle: [\n');
  t.throws(() => loadLockConfig(join(dir, 'bad.yaml')), { code: 'CONFIG_INVALID' });
  t.end();
});
