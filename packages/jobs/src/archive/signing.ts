import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { JobError } from '../errors.ts';

/**
 * Keys for signed and encrypted exports, all from node:crypto:
 * - a signing pair is Ed25519, private key in PKCS#8 PEM (NAME.key, 0600),
 *   public key in SPKI PEM (NAME.pub); a key is known by its id, the sha256
 *   of its raw 32-byte public key (hex);
 * - an encryption secret is 32 random bytes written as 64 hex digits
 *   (NAME.secret, 0600), used for AES-256-GCM (see archive-cipher.ts).
 */

/** Where an administrator puts the public keys whose archives `import` accepts. */
export function trustedKeysDir(home: string): string {
  return join(home, 'trusted-keys');
}

/** The sha256 (hex) of a raw Ed25519 public key: how keys are named in messages. */
export function keyId(rawPublicKey: Buffer): string {
  return createHash('sha256').update(rawPublicKey).digest('hex');
}

/** The 32 raw bytes of an Ed25519 public key (of a private key: its public half); USAGE for other keys. */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string')
    throw new JobError('not an Ed25519 key', 'USAGE');
  return Buffer.from(jwk.x, 'base64url');
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
}

/** What a signature covers: a domain tag, the signer's key and the sha512 of the signed bytes. */
function signedMessage(raw: Buffer, digest: Buffer): Buffer {
  return Buffer.concat([Buffer.from('cryopipe-archive-signature-v1\0'), raw, digest]);
}

export function signDigest(key: KeyObject, digest: Buffer): Buffer {
  return sign(null, signedMessage(rawPublicKey(key), digest), key);
}

export function verifyDigest(raw: Buffer, digest: Buffer, signature: Buffer): boolean {
  try {
    return verify(null, signedMessage(raw, digest), publicKeyFromRaw(raw), signature);
  } catch {
    return false;
  }
}

export interface NewKeyFiles {
  /** Files written, in order. */
  files: string[];
  /** The signing key's id (absent for a secret). */
  id?: string;
}

/**
 * Writes a new Ed25519 pair as `PREFIX.key` (0600) and `PREFIX.pub` (0644),
 * or with `secret` a new 256-bit encryption secret as `PREFIX.secret` (0600).
 * Never replaces an existing file.
 */
export function newKeyFiles(prefix: string, secret = false): NewKeyFiles {
  if (secret) {
    const path = `${prefix}.secret`;
    writeNew(path, `${randomBytes(32).toString('hex')}\n`, 0o600);
    return { files: [path] };
  }
  for (const p of [`${prefix}.key`, `${prefix}.pub`])
    if (existsSync(p))
      throw new JobError(`${p} already exists`, 'USAGE', 'pick another NAME, or remove it first');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeNew(`${prefix}.key`, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 0o600);
  writeNew(`${prefix}.pub`, publicKey.export({ format: 'pem', type: 'spki' }) as string, 0o644);
  return { files: [`${prefix}.key`, `${prefix}.pub`], id: keyId(rawPublicKey(publicKey)) };
}

function writeNew(path: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new JobError(
        `${path} already exists`,
        'USAGE',
        'pick another NAME, or remove it first',
      );
    throw err;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a secret file (a private key or an encryption secret): a regular
 * file, not a symlink, that no one but its owner can read — the same rule
 * ssh applies to private keys.
 */
function readPrivateFile(path: string, what: string): Buffer {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (err) {
    throw new JobError(
      `can't read the ${what} ${path} (${(err as NodeJS.ErrnoException).code})`,
      'USAGE',
      "make one with 'cryopipe key new NAME'",
    );
  }
  if (!st.isFile()) throw new JobError(`the ${what} ${path} is not a regular file`, 'USAGE');
  if ((st.mode & 0o077) !== 0)
    throw new JobError(
      `the ${what} ${path} can be read by others (mode ${(st.mode & 0o777).toString(8)})`,
      'REFUSED',
      `chmod 600 ${path}`,
    );
  return readFileSync(path);
}

/** The Ed25519 private key `export --sign` signs with. */
export function loadSigningKey(path: string): KeyObject {
  const pem = readPrivateFile(path, 'signing key');
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new JobError(
      `${path} is not a private key in PEM`,
      'USAGE',
      "make one with 'cryopipe key new NAME'",
    );
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new JobError(
      `${path} is a ${key.asymmetricKeyType} key; archives are signed with Ed25519`,
      'USAGE',
      "make one with 'cryopipe key new NAME'",
    );
  return key;
}

/** A 32-byte secret for `--encrypt`/`--decrypt`: 64 hex digits, or the 32 raw bytes. */
export function loadSecret(path: string): Buffer {
  const data = readPrivateFile(path, 'secret');
  const text = data.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (data.length === 32) return data;
  throw new JobError(
    `${path} is not a 256-bit secret (64 hex digits)`,
    'USAGE',
    "make one with 'cryopipe key new NAME --secret'",
  );
}

/** Reads a public key file (PEM, Ed25519) and returns its raw bytes. */
export function readPublicKeyFile(path: string): Buffer {
  try {
    return rawPublicKey(createPublicKey(readFileSync(path)));
  } catch (err) {
    if (JobError.is(err)) throw err;
    throw new JobError(`${path} is not an Ed25519 public key in PEM`, 'USAGE');
  }
}

/** A public key this machine trusts for imports (a file in HOME/trusted-keys). */
export interface TrustedKey {
  /** The key's id, derived from its raw bytes. */
  id: string;
  /** The raw 32-byte Ed25519 public key. */
  raw: Buffer;
  /** Path of the file the key was read from. */
  file: string;
}

/**
 * The keys in `HOME/trusted-keys/*.pub`. The directory and every key must
 * be root's (or this user's) and writable by no one else: whoever can add
 * a key there can make this machine run their code as root.
 */
export function trustedKeys(home: string): TrustedKey[] {
  const dir = trustedKeysDir(home);
  if (!existsSync(dir)) return [];
  assertAdminOnly(dir, true);
  const keys: TrustedKey[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.pub')) continue;
    const file = join(dir, name);
    assertAdminOnly(file, false);
    const raw = readPublicKeyFile(file);
    keys.push({ id: keyId(raw), raw, file });
  }
  return keys;
}

function assertAdminOnly(path: string, directory: boolean): void {
  const st = lstatSync(path);
  const uid = process.getuid?.() ?? 0;
  const problem = (directory ? !st.isDirectory() : !st.isFile())
    ? `is not a ${directory ? 'directory' : 'regular file'} (a symlink?)`
    : st.uid !== 0 && st.uid !== uid
      ? `belongs to uid ${st.uid}`
      : (st.mode & 0o022) !== 0
        ? `can be written by others (mode ${(st.mode & 0o777).toString(8)})`
        : undefined;
  if (problem)
    throw new JobError(
      `refusing the trusted keys: ${path} ${problem}`,
      'REFUSED',
      `make it root's and not writable by others: chown root ${path} && chmod go-w ${path}`,
    );
}

/**
 * Copies a public key into HOME/trusted-keys (created 0755, root's), so that
 * `import` accepts archives it signed. Never replaces a key already there.
 */
export function trustKey(home: string, pubFile: string, name?: string): TrustedKey {
  const raw = readPublicKeyFile(pubFile);
  const dir = trustedKeysDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  assertAdminOnly(dir, true);
  const id = keyId(raw);
  const existing = trustedKeys(home).find((k) => k.id === id);
  if (existing) return existing;
  const file = join(dir, `${name ?? basename(pubFile, '.pub')}.pub`);
  writeNew(file, publicKeyFromRaw(raw).export({ format: 'pem', type: 'spki' }) as string, 0o644);
  return { id, raw, file };
}
