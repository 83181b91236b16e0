// The ELM327 simulator behind a real pseudo-terminal: both ends through serialport's native binding.
import t from 'tap';
import { SerialPortLink } from '../../../hardware/serial/serial-port-link.js';
import { openPtyPair } from '../../../hardware/serial/pty-pair.js';
import { startElm327Simulator } from '../../../hardware/sim/elm327-simulator.js';
import { ElmTerminal } from './elm-terminal.js';

const BAUD = 38400;
/** Time the UART needs for `text` at 10 bits per byte. */
const lineTimeMs = (text: string): number => (Buffer.byteLength(text, 'latin1') * 10 * 1000) / BAUD;

t.test('a short session over a pty at 38400 baud: prompts and realistic timing', async (t) => {
  const pair = await openPtyPair();
  const device = await SerialPortLink.open({ path: pair.devicePath, baudRate: BAUD });
  const sim = startElm327Simulator({ link: device, baudRate: BAUD, ecuLatencyMs: { min: 30, max: 50 }, searchDelayMs: 1000, resetDelayMs: 500 });
  const host = await SerialPortLink.open({ path: pair.hostPath, baudRate: BAUD });
  t.teardown(async () => {
    await sim.stop();
    await host.close();
    await device.close();
    await pair.close();
  });
  const term = new ElmTerminal(host);

  const reset = await term.send('ATZ');
  t.equal(reset.text, 'ATZ\r\rELM327 v1.5\r\r>');
  t.ok(reset.elapsedMs >= 500 + lineTimeMs(reset.text), `ATZ took ${reset.elapsedMs.toFixed(1)} ms (≥ 500 ms reset + line time)`);
  for (const command of ['ATE0', 'ATL0', 'ATS1', 'ATH1', 'ATSP0']) {
    const { text } = await term.send(command);
    t.match(text, /OK\r\r>$/, command);
  }

  const search = await term.send('0100');
  t.match(search.text, /^SEARCHING\.\.\.\r7E8 06 41 00 BE 3F A8 13\r7E9 06 41 00 80 00 00 11\r\r>$/);
  const searchFloor = 1000 + 30 + lineTimeMs(search.text);
  t.ok(search.elapsedMs >= searchFloor, `first 0100 took ${search.elapsedMs.toFixed(1)} ms (≥ ${searchFloor.toFixed(1)})`);

  const vin = await term.send('0902');
  t.match(vin.text, /^7E8 10 14 49 02 01 .*\r7E8 21 .*\r7E8 22 .*\r\r>$/);
  const vinFloor = 30 + lineTimeMs(vin.text);
  t.ok(vin.elapsedMs >= vinFloor, `0902 (${vin.text.length} bytes) took ${vin.elapsedMs.toFixed(1)} ms (≥ ${vinFloor.toFixed(1)})`);

  const voltage = await term.send('ATRV');
  t.match(voltage.text, /^1\d\.\dV\r\r>$/);
  t.ok(voltage.elapsedMs >= lineTimeMs(voltage.text), 'even an AT reply takes its line time');

  // A burst of multi-PID polls, one command in flight at a time: every one ends with the prompt.
  for (let i = 0; i < 10; i++) {
    const poll = await term.send('010C0D05');
    t.match(poll.text, /^7E8 10 08 41 0C .*\r7E8 21 05 .*\r\r>$/, `poll ${i}`);
  }
  t.equal(sim.stats().obdRequests, 12);
  t.ok(sim.stats().bytesOut > 400);
});
