// LockActuator contract, run against the simulator: state transitions, car rules, jams, the RSP state byte.
import t from 'tap';
import { decodeActuatorState, encodeActuatorState, SimulatedLockActuator } from '../../../hardware/lock/lock-actuator.js';

t.test('simulator: starts locked; unlock, start, stop, trunk, lock', async (t) => {
  const a = new SimulatedLockActuator();
  t.same(a.state(), { locked: true, engineOn: false, trunkOpen: false });
  await t.rejects(a.execute('start'), { code: 'ACTUATOR_FAILED' }, 'no start while locked');
  t.same(await a.execute('unlock'), { locked: false, engineOn: false, trunkOpen: false });
  t.same(await a.execute('start'), { locked: false, engineOn: true, trunkOpen: false });
  t.same(await a.execute('trunk'), { locked: false, engineOn: true, trunkOpen: true });
  t.same(await a.execute('stop'), { locked: false, engineOn: false, trunkOpen: true });
  t.same(await a.execute('lock'), { locked: true, engineOn: false, trunkOpen: false }, 'locking latches the trunk');
  t.same(a.history, ['unlock', 'start', 'trunk', 'stop', 'lock']);
});

t.test('a jammed actuator fails typed and changes nothing', async (t) => {
  const a = new SimulatedLockActuator(1);
  a.jam();
  await t.rejects(a.execute('unlock'), { code: 'ACTUATOR_FAILED' });
  t.equal(a.state().locked, true);
  a.jam(false);
  t.equal((await a.execute('unlock')).locked, false);
});

t.test('state byte round trip', (t) => {
  for (let bits = 0; bits < 8; bits++) t.equal(encodeActuatorState(decodeActuatorState(bits)), bits);
  t.end();
});
