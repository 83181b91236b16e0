// `carchain fleet ca|provision|broker-config|image`: the fleet integrator's path, thin over tools/fleet.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { generateBrokerConfig } from '../../fleet/broker-config.js';
import { initCa, loadCa } from '../../fleet/fleet-ca.js';
import { FleetError } from '../../fleet/fleet-errors.js';
import { buildGatewayImage } from '../../fleet/image-build.js';
import { injectDevice } from '../../fleet/image-inject.js';
import { progressBar } from '../../fleet/progress-bar.js';
import { provision } from '../../fleet/provision.js';

function integer(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new FleetError('USAGE', `${what} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function print(json: boolean | undefined, data: unknown, lines: string[]): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${lines.join('\n')}\n`);
}

/** The checkout (or installed package) this CLI runs from: the nearest package.json above this file. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerFleet(program: Command): void {
  const fleet = program.command('fleet').description('fleet integrators: CA, device provisioning, broker config, device and gateway images');

  const ca = fleet.command('ca').description('the integrator certificate authority');
  ca.command('init')
    .description('create an RSA 3072 self-signed CA (ca.pem, ca.key 0600); never overwrites one')
    .requiredOption('--out <dir>', 'CA directory')
    .option('--name <cn>', 'CA common name', 'CarChain fleet CA')
    .option('--days <n>', 'validity in days', '3650')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain fleet ca init --out ./fleet/ca --name "Acme Fleet CA"')
    .action((opts: { out: string; name: string; days: string; json?: boolean }) => {
      const summary = initCa({ out: opts.out, name: opts.name, days: integer(opts.days, '--days')! });
      print(opts.json, summary, [`CA ${summary.subject}`, `cert ${summary.certFile}`, `key  ${summary.keyFile} (0600: keep it offline)`, `sha256 ${summary.fingerprint}`, `valid until ${summary.notAfter}`]);
    });

  fleet.command('provision')
    .description('per device: keystore, TLS client key + CSR + CA-signed certificate (CN = device id), dongle config, pairing code; manifest.json/.csv. Resumable: existing devices are kept')
    .requiredOption('--ca <dir>', 'CA directory (from fleet ca init)')
    .requiredOption('--count <n>', 'devices <prefix>-0001 … <prefix>-<n> (existing ones are reused)')
    .requiredOption('--prefix <id>', 'label prefix: letters, digits, _ and -')
    .requiredOption('--out <dir>', 'output directory (devices/<label>/, manifest.json, manifest.csv)')
    .option('--broker <url>', 'broker URL written into each dongle config', 'mqtts://broker.fleet.example:8883')
    .option('--days <n>', 'certificate validity in days (capped at the CA\'s)', '1825')
    .option('--key-bits <n>', 'RSA size of the device TLS key', '2048')
    .option('--data-dir <dir>', 'dongle data directory on the device (keystore.json, pairing.json)', '/var/lib/carchain')
    .option('--tls-dir <dir>', 'where ca.pem, device.pem and device.key live on the device', '/etc/carchain')
    .option('--obd-port <path>', 'OBD adapter path on the device', '/dev/carchain-obd')
    .option('--json', 'print JSON (the manifest summary)')
    .addHelpText('after', '\nExample:\n  $ carchain fleet provision --ca ./fleet/ca --count 100 --prefix acme --out ./fleet/devices --broker mqtts://mqtt.acme.example:8883')
    .action((opts: { ca: string; count: string; prefix: string; out: string; broker: string; days: string; keyBits: string; dataDir: string; tlsDir: string; obdPort: string; json?: boolean }) => {
      const authority = loadCa(opts.ca);
      const count = integer(opts.count, '--count')!;
      const bar = progressBar('provisioning', count);
      const result = provision({
        ca: authority, out: opts.out, prefix: opts.prefix, count, brokerUrl: opts.broker, days: integer(opts.days, '--days'), keyBits: integer(opts.keyBits, '--key-bits'),
        deviceDataDir: opts.dataDir, deviceTlsDir: opts.tlsDir, obdPort: opts.obdPort, onProgress: (done) => bar.update(done),
      });
      bar.finish();
      print(opts.json, { manifest: result.manifestFile, created: result.created, reused: result.reused, devices: result.devices }, [
        `${result.created} created, ${result.reused} already provisioned (kept), ${result.devices.length} in ${result.manifestFile}`,
      ]);
    });

  fleet.command('broker-config')
    .description('Mosquitto config with mutual TLS (CN = username) and per-device ACLs from a manifest, a server certificate and the gateway identity')
    .requiredOption('--manifest <file>', 'manifest.json from fleet provision')
    .requiredOption('--ca <dir>', 'CA directory')
    .requiredOption('--out <dir>', 'output directory (mosquitto.conf, acl, server.pem/.key, gateway/)')
    .option('--port <n>', 'TLS listener port', '8883')
    .option('--bind <address>', 'TLS listener address', '0.0.0.0')
    .option('--server-name <name>', 'DNS name or IP the dongles use for the broker (repeatable; localhost and 127.0.0.1 are always in)', collect, [])
    .option('--gateway-id <cn>', 'CN / MQTT username of the gateway identity', 'carchain-gateway')
    .option('--gateway-tls-dir <dir>', 'where gateway/{ca.pem,gateway.pem,gateway.key} will be on the gateway host (paths in gateway/gateway-broker.yaml)', '/etc/carchain/tls')
    .option('--install-dir <dir>', 'where these files will be on the broker host (paths in mosquitto.conf); default the absolute --out')
    .option('--run-as <user>', 'the account mosquitto runs as (`user` line)')
    .option('--persistence-dir <dir>', 'keep sessions and queued messages across restarts in this directory')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain fleet broker-config --manifest ./fleet/devices/manifest.json --ca ./fleet/ca --out ./fleet/broker --server-name mqtt.acme.example\n  $ mosquitto -c ./fleet/broker/mosquitto.conf\n  # gateway on the broker host: ./fleet/broker/gateway/{ca.pem,gateway.pem,gateway.key} → /etc/carchain/tls/,\n  # and the broker section of /etc/carchain/gateway.yaml is ./fleet/broker/gateway/gateway-broker.yaml')
    .action((opts: { manifest: string; ca: string; out: string; port: string; bind: string; serverName: string[]; gatewayId: string; gatewayTlsDir: string; installDir?: string; runAs?: string; persistenceDir?: string; json?: boolean }) => {
      const result = generateBrokerConfig({
        ca: loadCa(opts.ca), manifestFile: opts.manifest, out: opts.out, port: integer(opts.port, '--port'), bind: opts.bind, serverNames: opts.serverName,
        gatewayId: opts.gatewayId, gatewayTlsDir: opts.gatewayTlsDir,
        ...(opts.installDir ? { installDir: opts.installDir } : {}), ...(opts.runAs ? { runAs: opts.runAs } : {}), ...(opts.persistenceDir ? { persistenceDir: resolve(opts.persistenceDir) } : {}),
      });
      print(opts.json, result, [
        `config  ${result.configFile} (${result.devices} devices)`,
        `acl     ${result.aclFile}`,
        `server  ${result.server.cert}${result.server.reused ? ' (kept)' : ''}`,
        `gateway ${result.gateway.id}: ${result.gateway.cert}, ${result.gateway.key}${result.gateway.reused ? ' (kept)' : ''}`,
        `        broker section for its gateway.yaml (${result.gateway.brokerUrl}, mutual TLS): ${result.gateway.brokerSection}`,
      ]);
    });

  const image = fleet.command('image').description('device and gateway images');
  image.command('inject')
    .description('copy one device\'s identity and config into /carchain/ of the first FAT partition of an MBR disk image (mtools, no root)')
    .requiredOption('--base <image>', 'base disk image (not modified)')
    .requiredOption('--device <dir>', 'a device directory from fleet provision (devices/<label>)')
    .requiredOption('--out <image>', 'the device\'s image')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain fleet image inject --base dongle-base.img --device ./fleet/devices/devices/acme-0001 --out acme-0001.img')
    .action(async (opts: { base: string; device: string; out: string; json?: boolean }) => {
      const result = await injectDevice({ base: opts.base, deviceDir: opts.device, out: opts.out });
      print(opts.json, result, [`${result.out}: partition ${result.partition.number} (type 0x${result.partition.type.toString(16)}, offset ${result.partition.offset})`, ...result.files.map((f) => `  ${f}`)]);
    });
  image.command('build')
    .description('a gateway root-filesystem overlay tarball: built app, production node_modules, systemd units, /etc/carchain defaults')
    .requiredOption('--out <file>', 'output .tar.gz / .tgz, or .tar (uncompressed, much faster to write)')
    .option('--dist <dir>', 'the built app (npm run build); default <package>/dist. Refused (DIST_STALE) when a source is newer than its .js')
    .option('--repo <dir>', 'the package whose node_modules are copied; default the one this CLI runs from')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ npm run build && carchain fleet image build --out carchain-gateway-rootfs.tar.gz\n  # on the gateway: tar -xzf carchain-gateway-rootfs.tar.gz -C / && systemd-sysusers && systemctl enable --now carchain-gateway')
    .action(async (opts: { out: string; dist?: string; repo?: string; json?: boolean }) => {
      const result = await buildGatewayImage({ out: opts.out, repoRoot: opts.repo ?? packageRoot(), ...(opts.dist ? { dist: opts.dist } : {}) });
      print(opts.json, result, [`${result.out}: ${result.packages} production packages, ${(result.bytes / 1_048_576).toFixed(1)} MiB`]);
    });
}
