// Starts the built gateway on the GPU as the benchmark will run it and checks that the model's layers really are
// offloaded: the start log's backend and layer count, and /v1/models' meta. Writes both to <out>/offload.json and
// exits 1 when the model runs on the CPU.
// Usage: node check-offload.js <model.gguf> <backend> <out-dir>
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGatewayProcess } from "../targets/gateway.js";

const [model, backend = "vulkan", out = "."] = process.argv.slice(2);
if (!model) throw new Error("usage: check-offload <model.gguf> <backend> <out-dir>");
const gateway = await startGatewayProcess(["--model", model, "--gpu", backend, "--gpu-required", String(backend !== "off"), "--layout", "batched", "--slots", "8", "--ctx-size", "1024", "--playground", "false"]);
try {
  const models = (await (await fetch(`${gateway.baseURL}/models`)).json()) as { data: { id: string; meta: Record<string, unknown> }[] };
  const meta = models.data[0]!.meta;
  const answer = await (await fetch(`${gateway.baseURL}/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: models.data[0]!.id, prompt: "Once upon a time", max_tokens: 16, ignore_eos: true }) })).json();
  const report = { backend: meta.gpu, gpuDevices: meta.gpu_devices, vram: meta.vram, gpuLayers: meta.gpu_layers, layout: meta.layout, slots: meta.slots, sample: answer };
  writeFileSync(join(out, "offload.json"), JSON.stringify(report, null, 2));
  console.log(JSON.stringify(report));
  const offloaded = backend === "off" ? meta.gpu === false : meta.gpu === backend && Number(meta.gpu_layers) > 0; // off: trying the pack on a CPU
  if (!offloaded) {
    console.error(`not offloaded: backend ${String(meta.gpu)}, ${String(meta.gpu_layers)} layers`);
    process.exitCode = 1;
  }
} finally {
  await gateway.stop();
}
