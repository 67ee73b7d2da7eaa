import {
  keyId,
  newKeyFiles,
  readPublicKeyFile,
  trustedKeys,
  trustedKeysDir,
  trustKey,
} from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';

const USAGE = 'new NAME [--secret] | trust FILE.pub [--name NAME] | list | id FILE.pub';

export const key: Command = {
  name: 'key',
  summary: 'make and trust the keys that sign and encrypt exports',
  usage: USAGE,
  description: `key new NAME      writes an Ed25519 pair: NAME.key (private, 0600; give it to
                  'export --sign') and NAME.pub (public; trust it where you import)
key new NAME --secret
                  writes NAME.secret (0600): 32 random bytes as hex, for
                  'export --encrypt' and 'import --decrypt'
key trust FILE.pub
                  copies a public key into $CRYOPIPE_HOME/trusted-keys/, so
                  'import' accepts archives it signed
key list          the trusted keys and their ids
key id FILE.pub   a public key's id (sha256 of the raw key), as import names it

NAME may include a directory. key writes only the files named here and
never replaces an existing one. Keep NAME.key and NAME.secret
private: whoever holds NAME.key can make archives this machine restores as
root.`,
  allowPositionals: false,
  options: {
    secret: {
      type: 'boolean',
      description: 'key new: an encryption secret instead of a signing pair',
    },
    name: {
      type: 'string',
      valueName: 'NAME',
      description: 'key trust: the file name under trusted-keys/',
    },
  },
  examples: [
    'cryopipe key new /root/cryopipe-keys/build',
    'cryopipe key trust build.pub            # on the machine that imports',
    'cryopipe key new /root/cryopipe-keys/transfer --secret',
    'cryopipe key list',
  ],
  async run({ values, positionals, store, out }) {
    const [action, arg] = positionals;
    const need = (what: string) => {
      if (!arg)
        throw new CliError(`key ${action} needs ${what}`, EXIT.usage, `cryopipe key ${USAGE}`);
      return arg;
    };
    switch (action) {
      case 'new': {
        const made = newKeyFiles(need('NAME'), values.secret === true);
        out.result(made);
        for (const f of made.files) out.line(`wrote ${f}`);
        if (made.id) out.line(`key id ${made.id}`);
        return EXIT.ok;
      }
      case 'trust': {
        const k = trustKey(store.home, need('FILE.pub'), values.name as string | undefined);
        out.result({ id: k.id, file: k.file });
        out.line(`trusted ${k.id} (${k.file})`);
        return EXIT.ok;
      }
      case 'list': {
        const keys = trustedKeys(store.home);
        out.result(keys.map((k) => ({ id: k.id, file: k.file })));
        if (keys.length === 0) out.line(`no trusted keys in ${trustedKeysDir(store.home)}`);
        for (const k of keys) out.line(`${k.id}  ${k.file}`);
        return EXIT.ok;
      }
      case 'id': {
        const id = keyId(readPublicKeyFile(need('FILE.pub')));
        out.result({ id });
        out.line(id);
        return EXIT.ok;
      }
      default:
        throw new CliError(
          action ? `unknown key action '${action}'` : 'key needs an action',
          EXIT.usage,
          `cryopipe key ${USAGE}`,
        );
    }
  },
};
