import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, STORIES_260K, type TestGateway } from "../helpers/gateway.js";

const INPUTS = ["Once upon a time", "A cat sat on the mat.", "The little fox ran to the big red ball in the park", "x"];
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const fromBase64 = (text: string) => [...new Float32Array(new Uint8Array(Buffer.from(text, "base64")).buffer)];

describe("embeddings are unit vectors, with the pooling named", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      models: [
        { id: "test-model", path: STORIES_260K },
        { id: "mean", path: STORIES_260K, pooling: "mean" },
        { id: "cls", path: STORIES_260K, pooling: "cls" },
      ],
    });
  });
  afterAll(() => gw.close());

  const embed = async (body: object) => (await jsonBody(await postJson(gw.baseURL, "/embeddings", { model: gw.model, ...body }))).data.map((d: { embedding: unknown }) => d.embedding);

  it("returns unit-length vectors by default, as floats and as base64", async () => {
    const floats = (await gw.client.embeddings.create({ model: gw.model, input: INPUTS })).data.map((d) => d.embedding);
    const encoded = (await embed({ input: INPUTS, encoding_format: "base64" })).map(fromBase64);
    for (const vector of [...floats, ...encoded]) expect(Math.abs(norm(vector) - 1)).toBeLessThan(1e-5);
  });

  it("points the same way as the raw vector (embd_normalize: -1)", async () => {
    const [unit] = await embed({ input: INPUTS[0] });
    const [raw] = await embed({ input: INPUTS[0], embd_normalize: -1 });
    expect(norm(raw)).toBeGreaterThan(1.5); // the model's own scale (16 for stories260K)
    const length = norm(raw);
    raw.forEach((value: number, i: number) => expect(value / length).toBeCloseTo(unit[i], 5));
  });

  it("names the pooling in /v1/models: the fallback for a model that declares none, or the configured one", async () => {
    const { data } = await jsonBody(await fetch(`${gw.baseURL}/models`));
    const pooling = Object.fromEntries(data.map((m: { id: string; meta: { pooling: unknown } }) => [m.id, m.meta.pooling]));
    expect(pooling).toEqual({ "test-model": { pooling: "last", source: "fallback" }, mean: { pooling: "mean", source: "config" }, cls: { pooling: "cls", source: "config" } });
  });

  it("a per-model pooling setting changes the vector", async () => {
    const [last] = await embed({ input: INPUTS[2] });
    const [mean, meanOther] = await embed({ model: "mean", input: [INPUTS[2], INPUTS[1]] });
    const [cls, clsOther] = await embed({ model: "cls", input: [INPUTS[2], INPUTS[1]] });
    expect(Math.abs(norm(mean) - 1)).toBeLessThan(1e-5);
    expect(mean).not.toEqual(last);
    expect(mean).not.toEqual(meanOther);
    expect(cls).not.toEqual(last);
    expect(cls).toEqual(clsOther); // a decoder's first token (BOS) sees nothing after it: the same for every input
  });
});
