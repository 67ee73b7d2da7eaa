import { JobError } from '../errors.ts';
import type { Spooled } from './archive-seal.ts';
import { keyId, trustedKeys, trustedKeysDir, verifyDigest } from './signing.ts';

/** Who vouches for an imported archive. */
export type Authenticity =
  /** Signed by a key in HOME/trusted-keys. */
  | {
      /** Signed by a trusted key. */
      kind: 'signed';
      /** Id of the signing key. */
      keyId: string;
      /** File of the trusted key that verified the signature. */
      keyFile: string;
    }
  /** Accepted with `trustUnsigned`: unsigned, or signed by a key not trusted here. */
  | {
      /** No signature. */
      kind: 'unsigned';
    }
  | {
      /** Signed, by a key not trusted here. */
      kind: 'unknown-key';
      /** Id of the signing key. */
      keyId: string;
    };

const RUNS_AS_ROOT =
  'restoring an archive runs the processes in it as root, so cryopipe only imports archives signed by a key this machine trusts';

/**
 * Decides whether the spooled archive may be unpacked. A signature that
 * does not verify is always refused (the archive changed after signing);
 * an unsigned archive or an unknown signer only with `trustUnsigned`.
 */
export function authenticate(home: string, spooled: Spooled, trustUnsigned: boolean): Authenticity {
  const dir = trustedKeysDir(home);
  if (!spooled.signed) {
    if (trustUnsigned) return { kind: 'unsigned' };
    throw new JobError(
      `the archive is not signed; ${RUNS_AS_ROOT}`,
      'REFUSED',
      `export it with 'cryopipe export JOB --sign KEYFILE' and put the matching .pub into ${dir}/ here ('cryopipe key trust FILE.pub'); or, if you know where it came from, import with --trust-unsigned`,
    );
  }
  const { publicKey, signature } = spooled.signed;
  const id = keyId(publicKey);
  if (!verifyDigest(publicKey, spooled.digest, signature))
    throw new JobError(
      `the archive's signature does not match its contents: it was changed after it was signed, or damaged (signed by key ${id})`,
      'REFUSED',
      'nothing was imported; copy or export it again',
    );
  const trusted = trustedKeys(home).find((k) => k.id === id);
  if (trusted) return { kind: 'signed', keyId: id, keyFile: trusted.file };
  if (trustUnsigned) return { kind: 'unknown-key', keyId: id };
  throw new JobError(
    `the archive is signed by key ${id}, which is not trusted here; ${RUNS_AS_ROOT}`,
    'REFUSED',
    `if you trust that key, put its .pub into ${dir}/ ('cryopipe key trust FILE.pub'); or import with --trust-unsigned`,
  );
}
