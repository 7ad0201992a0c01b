/**
 * Regenerates `modal-proto.json`: the protobuf schema of the Modal RPCs the fake serves, read out
 * of the Modal SDK's own generated (ts-proto) encoders, so the fake speaks exactly the wire format
 * of the SDK version installed. See docs/adr/0003-modal-fake.md.
 *
 *   pnpm --filter @lookout/sandbox exec tsx test/fakes/modal-proto-gen.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MODAL_METHODS } from "./modal-methods";

const bundlePath = createRequire(import.meta.url)
  .resolve("modal")
  .replace(/index\.cjs$/, "index.js");
const bundle = readFileSync(bundlePath, "utf8");

interface FieldJson {
  type: string;
  id: number;
  rule?: "repeated";
  keyType?: string;
}

function encodeBlock(message: string): string {
  // Messages without fields have an encoder that ignores its argument.
  if (bundle.includes(`\nvar ${message} = {\n  encode(_, writer = new BinaryWriter()) {`)) return "";
  const start = bundle.indexOf(`\nvar ${message} = {\n  encode(message, writer = new BinaryWriter()) {`);
  if (start < 0) throw new Error(`no encoder for ${message}`);
  const end = bundle.indexOf("\n    return writer;", start);
  return bundle.slice(start, end);
}

const SCALARS = new Set([
  "string",
  "int32",
  "uint32",
  "sint32",
  "int64",
  "uint64",
  "sint64",
  "bool",
  "double",
  "float",
  "bytes",
  "fixed32",
  "fixed64",
  "sfixed32",
  "sfixed64",
]);
const messages: Record<string, { fields: Record<string, FieldJson> }> = {};

function collect(message: string): void {
  if (messages[message]) return;
  const fields: Record<string, FieldJson> = {};
  messages[message] = { fields };
  const block = encodeBlock(message);
  const lines = block.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    let m: RegExpExecArray | null;
    if ((m = /writer\.uint32\((\d+)\)\.(\w+)\(message\.(\w+)\)/.exec(line)) && SCALARS.has(m[2] ?? "")) {
      fields[m[3] ?? ""] = { type: m[2] ?? "", id: Number(m[1]) >> 3 };
    } else if ((m = /for \(const v of message\.(\w+)\) \{/.exec(line))) {
      const next = lines[i + 1] ?? "";
      let n: RegExpExecArray | null;
      if ((n = /writer\.uint32\((\d+)\)\.(\w+)\(v\)/.exec(next)))
        fields[m[1] ?? ""] = { type: n[2] ?? "", id: Number(n[1]) >> 3, rule: "repeated" };
      else if ((n = /(\w+)\.encode\(v, writer\.uint32\((\d+)\)\.fork\(\)\)/.exec(next))) {
        fields[m[1] ?? ""] = { type: n[1] ?? "", id: Number(n[2]) >> 3, rule: "repeated" };
        collect(n[1] ?? "");
      } else if ((n = /writer\.(\w+)\(v\)/.exec(next))) {
        // Packed repeated scalar: the tag was written by the `fork()` line before the loop.
        const tag = /writer\.uint32\((\d+)\)\.fork\(\)/.exec(lines[i - 1] ?? "");
        fields[m[1] ?? ""] = { type: n[1] ?? "", id: Number(tag?.[1]) >> 3, rule: "repeated" };
      }
    } else if ((m = /(\w+)\.encode\(message\.(\w+), writer\.uint32\((\d+)\)\.fork\(\)\)/.exec(line))) {
      fields[m[2] ?? ""] = { type: m[1] ?? "", id: Number(m[3]) >> 3 };
      collect(m[1] ?? "");
    } else if ((m = /Object\.entries\(message\.(\w+)\)\.forEach/.exec(line))) {
      const next = lines[i + 1] ?? "";
      const n = /(\w+)\.encode\(\{ key, value \}, writer\.uint32\((\d+)\)\.fork\(\)\)/.exec(next);
      if (!n) continue;
      const entry = encodeBlock(n[1] ?? "");
      const key = /writer\.uint32\(10\)\.(\w+)\(message\.key\)/.exec(entry)?.[1] ?? "string";
      const scalarValue = /writer\.uint32\(18\)\.(\w+)\(message\.value\)/.exec(entry)?.[1];
      const messageValue = /(\w+)\.encode\(message\.value, writer\.uint32\(18\)/.exec(entry)?.[1];
      const valueType = scalarValue ?? messageValue ?? "string";
      if (messageValue) collect(messageValue);
      fields[m[1] ?? ""] = { type: valueType, id: Number(n[2]) >> 3, keyType: key };
    }
  }
}

const services: Record<string, Record<string, { path: string; requestType: string; responseType: string; responseStream: boolean }>> = {};
for (const [service, methods] of Object.entries(MODAL_METHODS)) {
  const serviceStart = bundle.indexOf(`fullName: "${service}"`);
  services[service] = {};
  for (const method of methods) {
    const key = method.charAt(0).toLowerCase() + method.slice(1);
    const at = bundle.indexOf(`    ${key}: {\n      name: "${method}",`, serviceStart);
    const block = bundle.slice(at, bundle.indexOf("options:", at));
    const requestType = /requestType: (\w+)/.exec(block)?.[1] ?? "";
    const responseType = /responseType: (\w+)/.exec(block)?.[1] ?? "";
    const responseStream = /responseStream: true/.test(block);
    collect(requestType);
    collect(responseType);
    services[service][method] = { path: `/${service}/${method}`, requestType, responseType, responseStream };
  }
}

const out = join(dirname(fileURLToPath(import.meta.url)), "modal-proto.json");
writeFileSync(out, `${JSON.stringify({ services, nested: messages }, null, 1)}\n`);
process.stdout.write(`wrote ${Object.keys(messages).length} messages to ${out}\n`);
