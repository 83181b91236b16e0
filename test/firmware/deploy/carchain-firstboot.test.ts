// firmware/deploy/carchain-firstboot.sh on what `carchain fleet image inject` writes: a provisioned device injected into
// a disk image, its /carchain/ copied out with mtools as the "boot" directory, the script run against a temp root.
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadDongleConfig } from '../../../firmware/config/dongle-config.js';
import { FileKeystore } from '../../../firmware/keystore/device-keystore.js';
import { writeMbr } from '../../../tools/fleet/mbr.js';
import { repoRoot, runCli, runJson, tempDir } from '../../tools/fleet/fleet-cli.js';

t.setTimeout(600_000);
const dir = tempDir(t, 'firstboot');
const script = join(repoRoot, 'firmware/deploy/carchain-firstboot.sh');
const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;
const mode = (path: string) => statSync(path).mode & 0o777;
const IDENTITY = ['device.json', 'dongle.yaml', 'ca.pem', 'device.pem', 'device.key', 'keystore.json', 'pairing.json'];

/** Runs the script against `root` with the boot directory `boot`; never rejects. */
function firstBoot(boot: string, root: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', [script], {
      env: { PATH: process.env.PATH, CARCHAIN_BOOT_DIR: boot, CARCHAIN_ROOT: root, CARCHAIN_OWNER: `${uid}:${gid}`, CARCHAIN_SYSTEMCTL: join(dir, 'systemctl') },
      timeout: 60_000,
    }, (err, _stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr }));
  });
}

let offset = 0;
let image = '';
let device = { deviceId: '', dir: '' };

/** The image's /carchain/ copied out into `<parent>/carchain`, as the dongle sees it mounted. */
function bootDirFromImage(parent: string): string {
  mkdirSync(parent, { recursive: true });
  execFileSync('mcopy', ['-s', '-i', `${image}@@${offset}`, '::/carchain', parent], { env });
  return join(parent, 'carchain');
}

t.before(async () => {
  // systemctl stand-in: records how the unit disabled itself.
  writeFileSync(join(dir, 'systemctl'), `#!/bin/sh\necho "$@" >> ${join(dir, 'systemctl.log')}\n`, { mode: 0o755 });
  const caDir = join(dir, 'ca');
  const fleetDir = join(dir, 'fleet');
  if ((await runCli(['fleet', 'ca', 'init', '--out', caDir])).code !== 0) throw new Error('fleet ca init failed');
  const { devices } = await runJson<{ devices: { deviceId: string; dir: string }[] }>(['fleet', 'provision', '--ca', caDir, '--count', '2', '--prefix', 'pi', '--out', fleetDir]);
  device = { deviceId: devices[0]!.deviceId, dir: join(fleetDir, devices[0]!.dir) };
  const base = join(dir, 'base.img');
  const boot = { type: 0x0c, startLba: 2048, sectors: 64 * 2048 };
  const fd = openSync(base, 'w');
  ftruncateSync(fd, 80 << 20);
  writeSync(fd, writeMbr([boot], 0xf00d), 0, 512, 0);
  closeSync(fd);
  execFileSync('mkfs.vfat', ['-F', '32', '-n', 'BOOT', '--offset', String(boot.startLba), base, String(boot.sectors / 2)], { stdio: 'pipe' });
  offset = boot.startLba * 512;
  image = join(dir, 'pi-0001.img');
  await runJson(['fleet', 'image', 'inject', '--base', base, '--device', device.dir, '--out', image]);
  // The second device's keystore: another identity, for the conflict case.
  writeFileSync(join(dir, 'other-keystore.json'), readFileSync(join(fleetDir, devices[1]!.dir, 'keystore.json')));
});

t.test('first boot moves the identity into place with owner and modes, removes it from the boot partition, disables itself', async (t) => {
  const boot = bootDirFromImage(join(dir, 'boot-1'));
  t.same(readdirSync(boot).sort(), [...IDENTITY].sort(), 'the injected files came out of the image');
  const root = join(dir, 'root-1');
  const r = await firstBoot(boot, root);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(boot), 'the boot partition no longer holds the keys');
  const data = join(root, 'var/lib/carchain');
  const conf = join(root, 'etc/carchain');
  t.equal(mode(data), 0o700);
  t.equal(mode(conf), 0o755);
  const expected: [string, number][] = [
    [join(data, 'keystore.json'), 0o600], [join(data, 'pairing.json'), 0o600], [join(data, 'device.json'), 0o600],
    [join(conf, 'device.key'), 0o600], [join(conf, 'device.pem'), 0o644], [join(conf, 'ca.pem'), 0o644], [join(conf, 'dongle.yaml'), 0o644],
  ];
  for (const [path, m] of expected) {
    t.equal(mode(path), m, `${path.slice(root.length)} is ${m.toString(8)}`);
    t.same(readFileSync(path), readFileSync(join(device.dir, basename(path))), `${basename(path)} identical to the provisioned one`);
  }
  t.equal(statSync(join(data, 'keystore.json')).uid, uid, 'secrets owned by CARCHAIN_OWNER');
  t.notOk(readdirSync(data).concat(readdirSync(conf)).some((f) => f.includes('firstboot-tmp')), 'no temp files left');
  // What the dongle then does with them: the keystore loads (0600, so not KEYSTORE_INSECURE) and the config's TLS files are there.
  t.equal(FileKeystore.loadOrCreate(join(data, 'keystore.json')).deviceAddress, device.deviceId);
  const config = loadDongleConfig(join(conf, 'dongle.yaml'));
  for (const file of [config.uplink.tls!.ca, config.uplink.tls!.cert, config.uplink.tls!.key]) t.ok(existsSync(join(root, file)), `${file} is where dongle.yaml points`);
  t.equal(readFileSync(join(dir, 'systemctl.log'), 'utf8'), 'disable carchain-firstboot.service\n');

  const again = await firstBoot(boot, root);
  t.equal(again.code, 0, 'a second run succeeds');
  t.match(again.stderr, /already moved/);
  t.same(readFileSync(join(data, 'keystore.json')), readFileSync(join(device.dir, 'keystore.json')), 'and changes nothing');
});

t.test('a run interrupted before the boot copy was removed is finished by the next; a pairing made since is kept', async (t) => {
  const root = join(dir, 'root-1');
  const pairing = join(root, 'var/lib/carchain/pairing.json');
  writeFileSync(pairing, '{"paired":"since"}\n', { mode: 0o600 });
  const boot = bootDirFromImage(join(dir, 'boot-2'));
  const r = await firstBoot(boot, root);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(boot));
  t.equal(readFileSync(pairing, 'utf8'), '{"paired":"since"}\n', 'the live pairing state wins');
  t.same(readFileSync(join(root, 'etc/carchain/device.key')), readFileSync(join(device.dir, 'device.key')));
});

t.test('refusals leave the boot copy where it is', async (t) => {
  const root = join(dir, 'root-1');
  const boot = bootDirFromImage(join(dir, 'boot-3'));
  writeFileSync(join(root, 'var/lib/carchain/keystore.json'), readFileSync(join(dir, 'other-keystore.json')), { mode: 0o600 });
  const conflict = await firstBoot(boot, root);
  t.equal(conflict.code, 1);
  t.match(conflict.stderr, /another identity/);
  t.ok(existsSync(join(boot, 'keystore.json')), 'another identity in place: nothing replaced, nothing deleted');

  rmSync(join(boot, 'device.key'));
  const fresh = join(dir, 'root-2');
  const incomplete = await firstBoot(boot, fresh);
  t.equal(incomplete.code, 1);
  t.match(incomplete.stderr, /device\.key is missing/);
  t.notOk(existsSync(join(fresh, 'var/lib/carchain/keystore.json')), 'an incomplete identity: nothing moved');
  t.ok(existsSync(join(boot, 'keystore.json')));
});
