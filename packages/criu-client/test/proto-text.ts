// A small reader for the subset of .proto text CRIU's rpc.proto uses:
// top-level proto2 messages with scalar/message/enum fields, and enums.
// Enough to compare schemas field by field; not a general parser.

export interface ProtoField {
  label: 'optional' | 'required' | 'repeated';
  type: string;
  name: string;
  number: number;
}

export interface ProtoSchema {
  messages: Map<string, ProtoField[]>;
  enums: Map<string, Map<string, number>>;
}

export function parseProtoText(text: string): ProtoSchema {
  const clean = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const messages = new Map<string, ProtoField[]>();
  const enums = new Map<string, Map<string, number>>();
  for (const m of clean.matchAll(/\bmessage\s+(\w+)\s*\{([^}]*)\}/g)) {
    const fields: ProtoField[] = [];
    for (const f of m[2]!.matchAll(
      /\b(optional|required|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)/g,
    )) {
      fields.push({
        label: f[1] as ProtoField['label'],
        type: f[2]!,
        name: f[3]!,
        number: Number(f[4]),
      });
    }
    messages.set(m[1]!, fields);
  }
  for (const e of clean.matchAll(/\benum\s+(\w+)\s*\{([^}]*)\}/g)) {
    const values = new Map<string, number>();
    for (const v of e[2]!.matchAll(/\b(\w+)\s*=\s*(-?\d+)/g)) values.set(v[1]!, Number(v[2]));
    enums.set(e[1]!, values);
  }
  return { messages, enums };
}
