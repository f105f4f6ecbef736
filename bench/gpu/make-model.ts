// Writes a GGUF llama model with random F16 weights and the tokenizer of another GGUF (stories260K's: 512 tokens,
// byte fallback, so any input is safe). Made on the machine that benchmarks it: random weights do not compress, so a
// model big enough to load a GPU could not travel in the device's 64 MiB; this script and a 1 MB tokenizer source can.
// Usage: node make-model.js <out.gguf> <tokenizer-source.gguf> [--embd 1024] [--layers 12] [--ff 2816] [--heads 16]
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { embd: { type: "string", default: "1024" }, layers: { type: "string", default: "12" }, ff: { type: "string", default: "2816" }, heads: { type: "string", default: "16" }, ctx: { type: "string", default: "4096" } },
});
const [out, tokenizerSource] = positionals;
if (!out || !tokenizerSource) throw new Error("usage: make-model <out.gguf> <tokenizer-source.gguf> [--embd n] [--layers n] [--ff n] [--heads n]");
const embd = Number(values.embd);
const layers = Number(values.layers);
const ff = Number(values.ff);
const heads = Number(values.heads);
const ALIGNMENT = 32;

// --- reading the tokenizer's key-value pairs (GGUF v3) ---
const source = readFileSync(tokenizerSource);
let at = 0;
const u32 = () => ((at += 4), source.readUInt32LE(at - 4));
const u64 = () => ((at += 8), Number(source.readBigUInt64LE(at - 8)));
const str = () => {
  const length = u64();
  at += length;
  return source.toString("utf8", at - length, at);
};
const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const skipValue = (type: number): void => {
  if (type === 8) void str();
  else if (type === 9) {
    const itemType = u32();
    const count = u64();
    for (let i = 0; i < count; i++) skipValue(itemType);
  } else at += SIZES[type]!;
};
if (source.toString("ascii", 0, 4) !== "GGUF") throw new Error(`${tokenizerSource} is not a GGUF file`);
at = 4;
u32(); // version
u64(); // tensors
const kvCount = u64();
const copied: Buffer[] = [];
let vocabulary = 0;
for (let i = 0; i < kvCount; i++) {
  const start = at;
  const key = str();
  const type = u32();
  if (key === "tokenizer.ggml.tokens") {
    const mark = at;
    u32();
    vocabulary = u64();
    at = mark;
  }
  skipValue(type);
  if (key.startsWith("tokenizer.")) copied.push(source.subarray(start, at));
}

// --- writing the model ---
const kvString = (key: string, value: string) => Buffer.concat([gstr(key), u32b(8), gstr(value)]);
const kvU32 = (key: string, value: number) => Buffer.concat([gstr(key), u32b(4), u32b(value)]);
const kvF32 = (key: string, value: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value);
  return Buffer.concat([gstr(key), u32b(6), b]);
};
function gstr(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([length, bytes]);
}
function u32b(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}
function u64b(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}

const F32 = 0;
const F16 = 1;
interface Tensor {
  name: string;
  dims: number[];
  type: number;
}
const tensors: Tensor[] = [
  { name: "token_embd.weight", dims: [embd, vocabulary], type: F16 },
  { name: "output_norm.weight", dims: [embd], type: F32 },
  { name: "output.weight", dims: [embd, vocabulary], type: F16 },
];
for (let l = 0; l < layers; l++)
  tensors.push(
    { name: `blk.${l}.attn_norm.weight`, dims: [embd], type: F32 },
    { name: `blk.${l}.attn_q.weight`, dims: [embd, embd], type: F16 },
    { name: `blk.${l}.attn_k.weight`, dims: [embd, embd], type: F16 },
    { name: `blk.${l}.attn_v.weight`, dims: [embd, embd], type: F16 },
    { name: `blk.${l}.attn_output.weight`, dims: [embd, embd], type: F16 },
    { name: `blk.${l}.ffn_norm.weight`, dims: [embd], type: F32 },
    { name: `blk.${l}.ffn_gate.weight`, dims: [embd, ff], type: F16 },
    { name: `blk.${l}.ffn_up.weight`, dims: [embd, ff], type: F16 },
    { name: `blk.${l}.ffn_down.weight`, dims: [ff, embd], type: F16 },
  );
const bytesOf = (t: Tensor) => t.dims.reduce((a, b) => a * b, 1) * (t.type === F16 ? 2 : 4);
const padded = (n: number) => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

const kvs = [
  kvString("general.architecture", "llama"),
  kvString("general.name", `gpu-bench-random-${embd}x${layers}`),
  kvU32("general.file_type", 1),
  kvU32("general.alignment", ALIGNMENT),
  kvU32("llama.context_length", Number(values.ctx)),
  kvU32("llama.embedding_length", embd),
  kvU32("llama.block_count", layers),
  kvU32("llama.feed_forward_length", ff),
  kvU32("llama.attention.head_count", heads),
  kvU32("llama.attention.head_count_kv", heads),
  kvU32("llama.rope.dimension_count", embd / heads),
  kvF32("llama.attention.layer_norm_rms_epsilon", 1e-5),
  ...copied,
];
let offset = 0;
const infos = tensors.map((t) => {
  const info = Buffer.concat([gstr(t.name), u32b(t.dims.length), ...t.dims.map(u64b), u32b(t.type), u64b(offset)]);
  offset += padded(bytesOf(t));
  return info;
});
const header = Buffer.concat([Buffer.from("GGUF", "ascii"), u32b(3), u64b(tensors.length), u64b(kvs.length), ...kvs, ...infos]);
const fd = openSync(out, "w");
writeSync(fd, header);
writeSync(fd, Buffer.alloc(padded(header.length) - header.length));

// Weights ~ uniform(-0.03, 0.03) in F16, from a pool of random halves (fast enough for hundreds of MB); norms 1.
const pool = new Uint16Array(1 << 20);
let seed = 12345;
for (let i = 0; i < pool.length; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  pool[i] = toHalf(((seed / 2 ** 32) * 2 - 1) * 0.03);
}
for (const t of tensors) {
  const size = bytesOf(t);
  const data = Buffer.alloc(padded(size));
  if (t.type === F32) for (let i = 0; i < size / 4; i++) data.writeFloatLE(1, i * 4);
  else {
    const halves = new Uint16Array(data.buffer, data.byteOffset, size / 2);
    const chunk = pool.length / 2;
    for (let i = 0; i < halves.length; i += chunk) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const from = seed % chunk;
      halves.set(pool.subarray(from, from + Math.min(chunk, halves.length - i)), i);
    }
  }
  writeSync(fd, data);
}
closeSync(fd);
const params = tensors.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
console.log(JSON.stringify({ out, params, bytes: padded(header.length) + offset, vocabulary, embd, layers, ff, heads }));

function toHalf(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  if (exponent <= 0) return sign; // tiny: zero
  return sign | (exponent << 10) | ((x >>> 13) & 0x3ff);
}
