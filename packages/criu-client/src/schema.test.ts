import { readFileSync } from 'node:fs';
import { describeWith } from '@cryopipe/testkit';
import { describe, expect, it } from 'vitest';
import { debianRpcProto, debianRpcProtoText } from '../test/debian-criu.ts';
import { type ProtoSchema, parseProtoText } from '../test/proto-text.ts';
import { file_rpc } from './gen/rpc_pb.ts';

const scalarNames: Record<number, string> = {
  1: 'double',
  2: 'float',
  3: 'int64',
  4: 'uint64',
  5: 'int32',
  6: 'fixed64',
  7: 'fixed32',
  8: 'bool',
  9: 'string',
  12: 'bytes',
  13: 'uint32',
  15: 'sfixed32',
  16: 'sfixed64',
  17: 'sint32',
  18: 'sint64',
};
const labelNames: Record<number, 'optional' | 'required' | 'repeated'> = {
  1: 'optional',
  2: 'required',
  3: 'repeated',
};

/** Our schema as shipped: read from the generated descriptor, not from our .proto text. */
function shippedSchema(): ProtoSchema {
  const messages: ProtoSchema['messages'] = new Map();
  for (const message of file_rpc.messages) {
    messages.set(
      message.typeName,
      message.fields.map((f) => ({
        name: f.name,
        number: f.number,
        label: labelNames[f.proto.label]!,
        type: f.proto.typeName ? f.proto.typeName.replace(/^\./, '') : scalarNames[f.proto.type]!,
      })),
    );
  }
  const enums: ProtoSchema['enums'] = new Map();
  for (const e of file_rpc.enums)
    enums.set(e.typeName, new Map(e.values.map((v) => [v.name, v.number])));
  return { messages, enums };
}

/**
 * Differences that would break the wire: a field of theirs that we lack or
 * describe differently (number, type, label), or an enum value that differs.
 * Fields only we have are reported separately (a newer CRIU added them).
 */
function compare(ours: ProtoSchema, theirs: ProtoSchema) {
  const drift: string[] = [];
  const onlyOurs: string[] = [];
  for (const [name, fields] of theirs.messages) {
    const mine = ours.messages.get(name);
    if (!mine) {
      drift.push(`message ${name} missing`);
      continue;
    }
    for (const field of fields) {
      const match = mine.find((f) => f.number === field.number);
      if (!match) drift.push(`${name}.${field.name} = ${field.number} missing`);
      else if (match.type !== field.type || match.label !== field.label)
        drift.push(
          `${name}.${field.name} = ${field.number}: ours ${match.label} ${match.type}, theirs ${field.label} ${field.type}`,
        );
    }
    for (const f of mine)
      if (!fields.some((t) => t.number === f.number))
        onlyOurs.push(`${name}.${f.name} = ${f.number}`);
  }
  for (const [name, values] of theirs.enums) {
    const mine = ours.enums.get(name);
    for (const [value, number] of values) {
      if (mine?.get(value) !== number)
        drift.push(`enum ${name}.${value} = ${number} differs or is missing`);
    }
  }
  return { drift, onlyOurs };
}

describe('our rpc.proto', () => {
  it('generated code matches the .proto it was generated from', () => {
    const text = readFileSync(new URL('../proto/rpc.proto', import.meta.url), 'utf8');
    const { drift, onlyOurs } = compare(shippedSchema(), parseProtoText(text));
    expect(drift).toEqual([]);
    expect(onlyOurs).toEqual([]);
  });

  it('catches drift: a changed field number, type or label is reported', () => {
    const theirs = parseProtoText(
      'message criu_notify { optional string script = 1; required int32 pid = 2; optional bool x = 9; }',
    );
    const { drift } = compare(shippedSchema(), theirs);
    expect(drift).toEqual([
      'criu_notify.pid = 2: ours optional int32, theirs required int32',
      'criu_notify.x = 9 missing',
    ]);
  });
});

describeWith([debianRpcProto], "our rpc.proto against Debian's criu package", () => {
  it('has every field of the shipped rpc.proto with the same number, type and label', () => {
    const { text, version } = debianRpcProtoText();
    const theirs = parseProtoText(text);
    expect(theirs.messages.get('criu_opts')?.length).toBeGreaterThan(50);
    const { drift, onlyOurs } = compare(shippedSchema(), theirs);
    expect(drift, `drift against Debian criu ${version}`).toEqual([]);
    // Debian 12 ships criu 3.17; fields newer CRIU added are expected here.
    if (onlyOurs.length > 0) {
      console.info(
        `fields newer than Debian criu ${version}'s rpc.proto (allowed): ${onlyOurs.join(', ')}`,
      );
    }
    // Only appended fields are allowed: numbers above every number Debian's copy uses.
    for (const extra of onlyOurs) {
      const [message, number] = [extra.split('.')[0]!, Number(extra.split(' = ')[1])];
      const highest = Math.max(...(theirs.messages.get(message) ?? []).map((f) => f.number));
      expect(number, extra).toBeGreaterThan(highest);
    }
  });
});
