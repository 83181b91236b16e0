// `carchain wallet pair --url` without --code: the wallet takes the code an unpaired dongle shows on its local endpoint.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileKeystore } from '../../../firmware/keystore/device-keystore.js';
import { startPairingServer } from '../../../firmware/pairing/pairing-server.js';
import { PairingService } from '../../../firmware/pairing/pairing-service.js';
import { MemoryPairingStateStore } from '../../../firmware/pairing/pairing-state.js';
import { generateMnemonic } from '../../../protocol/hd-keys.js';
import { createWallet, readWalletMeta } from '../../../tools/wallet/wallet-keystore.js';

const cli = fileURLToPath(new URL('../../../tools/cli/carchain.ts', import.meta.url));

function carchain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

t.test('pair by URL alone, then a second pairing is refused because the dongle shows no code any more', async (t) => {
  t.setTimeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), 'carchain-pair-url-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keystore = FileKeystore.loadOrCreate(join(dir, 'keystore.json'));
  const server = await startPairingServer(new PairingService(keystore, new MemoryPairingStateStore()));
  t.teardown(() => server.close());
  const walletFile = join(dir, 'wallet.json');
  const passphraseFile = join(dir, 'passphrase');
  writeFileSync(passphraseFile, 'correct horse battery staple\n', { mode: 0o600 });
  // A cheap scrypt: this test is about pairing, not the keystore's cost.
  await createWallet(walletFile, { mnemonic: generateMnemonic(), passphrase: 'correct horse battery staple', kdf: { N: 1024, r: 8, p: 1 } });
  const wallet = ['wallet', '--wallet', walletFile, '--passphrase-file', passphraseFile];

  const paired = await carchain([...wallet, 'pair', '--url', server.url, '--vid', 'LBVNU79049SB81546', '--pool-size', '4', '--json']);
  t.equal(paired.code, 0, paired.stderr);
  const device = JSON.parse(paired.stdout) as { deviceId: string; poolSize: number; authorised: number };
  t.equal(device.deviceId, keystore.deviceAddress, 'paired the dongle behind the URL');
  t.equal(device.authorised, 4, 'every pool key authorised');
  t.same(readWalletMeta(walletFile).devices.map((d) => d.deviceId), [keystore.deviceAddress], 'recorded in the wallet');

  const again = await carchain([...wallet, 'pair', '--url', server.url, '--vid', 'LBVNU79049SB81546', '--pool-size', '4']);
  t.equal(again.code, 1, 'a coded error');
  t.match(again.stderr, /PAIRING_ALREADY_CLAIMED/);

  const nobody = await carchain([...wallet, 'pair', '--url', 'http://127.0.0.1:9', '--vid', 'LBVNU79049SB81546']);
  t.equal(nobody.code, 75, 'an unreachable dongle is a temporary failure');
  t.match(nobody.stderr, /PAIRING_UNREACHABLE/);
});
