// The terminal config: defaults filled in, relative paths resolved against the file, unknown or malformed fields refused with CONFIG_INVALID.
import t from 'tap';
import { parseCaitConfig, plateReaderOptions } from '../../../firmware/cait/cait-config.js';
import { DEFAULT_LIMIT_SIDE } from '../../../firmware/cait/plate-detector.js';

const minimal = { terminal: { dataDir: 'data' }, chain: { rpc: ['http://127.0.0.1:26657'] }, uplink: { brokerUrl: 'mqtt://127.0.0.1:1883' } };

t.test('defaults and path resolution', (t) => {
  const c = parseCaitConfig({ ...minimal, camera: { ffmpeg: { input: 'rtsp://cam/1' } } }, 'test', '/etc/carchain');
  t.equal(c.terminal.dataDir, '/etc/carchain/data');
  t.equal(c.terminal.ticketsDir, '/etc/carchain/data/tickets');
  t.same(c.camera, { directory: null, ffmpeg: { input: 'rtsp://cam/1', fps: 2, width: null, height: null }, includeExisting: false });
  t.same(c.uplink, { brokerUrl: 'mqtt://127.0.0.1:1883', protocolVersion: 5, tls: null, deliverTimeoutMs: 30_000 });
  t.same(c.tracking, { gapMs: 120_000, minReads: 1 });
  t.equal(c.chain.syncIntervalMs, 60_000);
  t.same(c.reader, { limitSide: DEFAULT_LIMIT_SIDE, refine: true }, "the reader's defaults are the detector's");
  t.end();
});

t.test('reader options: limit side and fine pass reach the PlateReader', (t) => {
  const c = parseCaitConfig({ ...minimal, reader: { limitSide: 640, refine: false } });
  t.same(plateReaderOptions(c), { detector: { limitSide: 640 }, refine: false });
  t.throws(() => parseCaitConfig({ ...minimal, reader: { limitSide: 500 } }), { code: 'CONFIG_INVALID', message: /reader\/limitSide/ }, 'a multiple of 32');
  t.throws(() => parseCaitConfig({ ...minimal, reader: { limitSide: 64 } }), { code: 'CONFIG_INVALID', message: /reader\/limitSide/ });
  t.end();
});

t.test('refusals name the field', (t) => {
  t.throws(() => parseCaitConfig({ ...minimal, extra: 1 }), { code: 'CONFIG_INVALID', message: /extra/ });
  t.throws(() => parseCaitConfig({ ...minimal, chain: { rpc: ['ftp://x'] } }), { code: 'CONFIG_INVALID', message: /chain\/rpc\/0/ });
  t.throws(() => parseCaitConfig({ ...minimal, uplink: { brokerUrl: 'mqtt://x', protocolVersion: 3 } }), { code: 'CONFIG_INVALID', message: /protocolVersion/ });
  t.throws(() => parseCaitConfig({ chain: minimal.chain, uplink: minimal.uplink }), { code: 'CONFIG_INVALID', message: /terminal/ });
  t.end();
});
