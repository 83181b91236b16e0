// Typed errors of the fleet integrator tools (CA, provisioning, broker config, images): stable codes for scripts.
import { CarchainError } from '../../protocol/errors.js';

export type FleetErrorCode =
  | 'USAGE' // a bad option value; the CLI exits 2
  | 'CA_EXISTS' // `ca init` would overwrite an existing CA
  | 'CA_MISSING' // the CA directory holds no CA
  | 'CA_INVALID' // the CA files are unreadable, mismatched or not a CA
  | 'CSR_INVALID' // a CSR's signature does not verify
  | 'PROVISION_BUSY' // another run holds the output directory's lock (temporary)
  | 'DEVICE_DIR_INVALID' // a finished device directory lacks a file or does not belong to this CA
  | 'MANIFEST_INVALID' // manifest.json is unreadable or malformed
  | 'IMAGE_UNREADABLE' // the base image cannot be read
  | 'IMAGE_NO_BOOT_PARTITION' // no MBR, or no FAT partition in it
  | 'IMAGE_TOOL_FAILED' // mtools or tar failed
  | 'DIST_MISSING' // `image build` found no built app
  | 'DIST_STALE' // `image build`: a source file is newer than its compiled .js (npm run build)
  | 'DEPS_MISSING'; // production dependencies are not installed (npm ci)

export class FleetError extends CarchainError<FleetErrorCode> {}
