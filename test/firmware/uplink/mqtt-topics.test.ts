// Tests for the device topic names (firmware/mqtt-topics.ts): shape, no `$`, no injection through the device id, parsing.
import t from 'tap';
import { ALL_UPLINKS_FILTER, assertDeviceId, deviceTopics, parseDeviceTopic } from '../../../firmware/mqtt-topics.js';

t.test('the topics of a device', (t) => {
  t.same(deviceTopics('dongle-7'), {
    uplink: 'carchain/v1/devices/dongle-7/uplink',
    state: 'carchain/v1/devices/dongle-7/state',
    health: 'carchain/v1/devices/dongle-7/health',
    downlink: 'carchain/v1/devices/dongle-7/downlink',
    downlinkFilter: 'carchain/v1/devices/dongle-7/downlink/#',
  });
  t.equal(ALL_UPLINKS_FILTER, 'carchain/v1/devices/+/uplink');
  for (const topic of Object.values(deviceTopics('x'))) t.notOk(topic.startsWith('$'));
  t.end();
});

t.test('a device id is one plain topic level', (t) => {
  for (const bad of ['', 'a/b', '+', '#', '$SYS', 'a b', 'x\u0000', 'é', 'a'.repeat(65)]) {
    t.throws(() => deviceTopics(bad), RangeError, JSON.stringify(bad));
  }
  t.equal(assertDeviceId('VIN.LBVNU79049SB81546:0'), 'VIN.LBVNU79049SB81546:0');
  t.end();
});

t.test('parseDeviceTopic inverts deviceTopics and rejects anything else', (t) => {
  const topics = deviceTopics('d1');
  t.same(parseDeviceTopic(topics.uplink), { deviceId: 'd1', kind: 'uplink', rest: [] });
  t.same(parseDeviceTopic(topics.state), { deviceId: 'd1', kind: 'state', rest: [] });
  t.same(parseDeviceTopic(topics.health), { deviceId: 'd1', kind: 'health', rest: [] });
  t.same(parseDeviceTopic(`${topics.downlink}/grant/42`), { deviceId: 'd1', kind: 'downlink', rest: ['grant', '42'] });
  for (const bad of ['carchain/v2/devices/d1/uplink', 'carchain/v1/devices/d1/uplink/extra', 'carchain/v1/devices/d1/other', 'carchain/v1/devices/$x/uplink', 'carchain/v1/devices', 'x/v1/devices/d1/uplink']) {
    t.equal(parseDeviceTopic(bad), null, bad);
  }
  t.end();
});
